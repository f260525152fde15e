"""Hostile stored data, generated: every decode entry point against random payloads.

Payloads are random bytes, random JSON, task metas with random fields and
exception dicts (hostile and lazy-loaded class names, ``SystemExit``...),
wrapped in random layers: Celery's compression marker (bz2/gzip/lzma), the
``zlib`` transform, valid and forged signatures, valid and forged ``aes-gcm``
encryption (when ``cryptography`` is installed), unknown markers, truncation
and decompression bombs.  Each case is written under a key and read through
one entry point: task meta, batched read, group meta (and
``GroupResult.restore``), chord part, and the pushed-message decode of the
waiting path.  Record stores (no raw writes) get the same payloads through
their codec and random row dicts through ``meta_from_decoded``.

Properties, per case: only :class:`~resultstore.errors.ResultStoreError`
subclasses escape; ``sys.modules`` is unchanged; the decoded value holds
nothing but plain data and exception instances.  Over a run, the process's
peak RSS grows less than :data:`RSS_BUDGET`.  ``python -m resultstore.testing.fuzz
N`` runs ``N`` cases on ``memory://`` and prints the figures (``nox -s fuzz``).
"""

from __future__ import annotations

import bz2
import json
import lzma
import random
import resource
import sys
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .. import states
from ..backend import ResultBackend
from ..chords import ChordPart
from ..client import GroupResult
from ..codec import COMPRESSED_PAYLOAD_MAGIC, check_group
from ..errors import ResultStoreError
from ..keys import RECORDS
from ..spec import KeyValueStore
from ..transforms import MARKER, HmacSigner, PayloadContext

__all__ = ["FuzzStats", "fuzz_backend", "SETTINGS", "SIGNED", "ENCRYPTED", "RSS_BUDGET",
           "reading_settings"]

#: Settings of the backends the fuzzer reads with (a small bound keeps bombs cheap).
LIMIT = 1 << 20
SETTINGS: dict[str, Any] = {"resultstore_max_payload_size": LIMIT}
SIGNED: dict[str, Any] = {**SETTINGS, "resultstore_transforms": ["zlib", "hmac-sha256"],
          "resultstore_signing_key": "fuzz-key"}
#: Compressed, then encrypted (``aes-gcm`` needs ``cryptography``; see :func:`reading_settings`).
ENCRYPTION_KEYS = {"fuzz": b"\x07" * 32}
ENCRYPTED: dict[str, Any] = {**SETTINGS, "resultstore_transforms": ["zlib", "aes-gcm"],
                             "resultstore_encryption_keys": ENCRYPTION_KEYS}
try:
    import cryptography  # noqa: F401
    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - the kit runs without the encryption extra
    HAVE_CRYPTOGRAPHY = False
#: Peak RSS growth a whole run may cause (bombs inflate 4x the bound).
RSS_BUDGET = 64 * 1024 * 1024
_BATCH = 2_000
ENTRIES = ("task", "many", "group", "restore", "chord", "pushed")

_PLAIN = (type(None), bool, int, float, str, bytes, datetime, date, time, Decimal, uuid.UUID)
_NAMES = ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException", "Exception",
          "ValueError", "OSError", "UnicodeDecodeError", "ExceptionGroup", "object", "eval",
          "system", "Popen", "__import__", "__class__", "ValueError.__class__", "Outer.Inner",
          "ProcessPoolExecutor", "ThreadPoolExecutor", "Celery", "Task", "shared_task", "Retry",
          "TaskRevokedError", "ChordError", "ImportError", "path", "modules", "Pickler"]
_MODULES = ["builtins", "os", "sys", "subprocess", "pickle", "concurrent.futures", "celery",
            "celery.exceptions", "xml.dom.minidom", "resultstore.errors", "json", "gone.module",
            "os; import os", ""]
_STATES = [*sorted(states.ALL_STATES), "PROGRESS", "", "success"]


@dataclass
class FuzzStats:
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    untyped: int = 0
    imported: set[str] = field(default_factory=set)


# -- payloads ---------------------------------------------------------------------------------
# Hypothesis draws the structure (entry, layers, a seed); the seed drives a plain
# ``random.Random`` building the document, which keeps 100,000 cases to minutes.
_TEXT = "aZ_.0 \u00e9\u4e2d\U0001f600\x00\"\\"


def _text(r: random.Random, size: int = 12) -> str:
    return "".join(r.choice(_TEXT) for _ in range(r.randrange(size)))


def _scalar(r: random.Random) -> Any:
    return r.choice((None, True, False, r.randint(-2**70, 2**70), r.random() * 1e308,
                     float("nan"), float("-inf"), _text(r), r.choice(_NAMES), r.choice(_STATES)))


def _value(r: random.Random, depth: int = 0) -> Any:
    roll = r.random()
    if depth > 3 or roll < 0.6:
        return _scalar(r)
    if roll < 0.8:
        return [_value(r, depth + 1) for _ in range(r.randrange(4))]
    return {_text(r, 6): _value(r, depth + 1) for _ in range(r.randrange(4))}


def _maybe(r: random.Random, out: dict[str, Any], key: str, make: Any) -> None:
    if r.random() < 0.8:
        out[key] = make() if r.random() < 0.85 else _value(r)


def _exception(r: random.Random) -> dict[str, Any]:
    exc: dict[str, Any] = {}
    _maybe(r, exc, "exc_type", lambda: r.choice(_NAMES) if r.random() < 0.8 else _text(r))
    _maybe(r, exc, "exc_module", lambda: r.choice(_MODULES) if r.random() < 0.9 else None)
    _maybe(r, exc, "exc_message", lambda: [_value(r) for _ in range(r.randrange(3))])
    return exc


def _meta(r: random.Random) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    _maybe(r, meta, "status", lambda: r.choice(_STATES))
    _maybe(r, meta, "result", lambda: _exception(r) if r.random() < 0.5 else _value(r))
    _maybe(r, meta, "traceback", lambda: r.choice((None, _text(r))))
    _maybe(r, meta, "children", lambda: r.choice((None, [_value(r)], [[[_text(r), None], None]])))
    _maybe(r, meta, "date_done", lambda: r.choice((None, "2026-01-01T00:00:00+00:00")))
    return meta


def document(seed: int) -> bytes:
    """A payload: random bytes, text, or the JSON of a meta/group/chord part/any value."""
    r = random.Random(seed)
    kind = r.randrange(8)
    if kind == 0:
        return r.randbytes(r.randrange(64))
    if kind == 1:
        return _text(r, 32).encode("utf-8", "surrogatepass")
    doc = (_meta(r) if kind < 5 else _value(r) if kind == 5
           else {"result": r.choice(([[_text(r), None], [[[_text(r), None], None]]], _value(r)))}
           if kind == 6 else [1, _text(r), r.choice(_STATES), _exception(r)])
    return json.dumps(doc).encode()


_LAYERS = ("bz2", "gzip", "lzma", "zlib", "signed", "forged", "unknown", "truncate", "bomb",
           "sealed-forged", *(("sealed",) if HAVE_CRYPTOGRAPHY else ()))


def reading_settings() -> list[dict[str, Any]]:
    """The settings the fuzzer reads with: plain, signed and (with cryptography) encrypted."""
    return [SETTINGS, SIGNED, *([ENCRYPTED] if HAVE_CRYPTOGRAPHY else [])]
cases = st.tuples(st.sampled_from(ENTRIES), st.integers(min_value=0, max_value=2**32 - 1),
                  st.lists(st.sampled_from(_LAYERS), max_size=3),
                  st.integers(min_value=0, max_value=255))


def _xz(data: bytes) -> bytes:
    return lzma.compress(data, preset=1)  # the default preset's encoder alone takes ~94 MiB


_CELERY: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "bz2": ("application/x-bz2", bz2.compress), "gzip": ("application/x-gzip", zlib.compress),
    "lzma": ("application/x-lzma", _xz)}


def _layer(kind: str, payload: bytes) -> bytes:
    if kind == "zlib":
        return MARKER + b"zlib\x00" + zlib.compress(payload)
    content_type, compress = _CELERY[kind]
    return COMPRESSED_PAYLOAD_MAGIC + content_type.encode() + b"\x00" + compress(payload)


@cache
def _bomb(kind: str) -> bytes:
    return _layer(kind, b"\0" * (4 * LIMIT))


def wrap(payload: bytes, layers: list[str], key: str, salt: int) -> bytes:
    """Apply ``layers`` (innermost first); ``key``: the record a valid signature binds to."""
    for layer in layers:
        if layer in ("bz2", "gzip", "lzma", "zlib"):
            payload = _layer(layer, payload)
        elif layer == "signed":
            body = HmacSigner("fuzz-key").encode(payload, PayloadContext(key))
            payload = MARKER + b"hmac-sha256\x00" + body
        elif layer == "forged":
            payload = MARKER + b"hmac-sha256\x00" + bytes([salt]) * 32 + payload
        elif layer == "sealed":
            from ..encryption import AesGcmTransform

            body = AesGcmTransform(ENCRYPTION_KEYS).encode(payload, PayloadContext(key))
            payload = MARKER + b"aes-gcm\x00" + body
        elif layer == "sealed-forged":
            kid = (b"fuzz", b"", b"\xff\xfe", b"x" * 255)[salt % 4]
            payload = (MARKER + b"aes-gcm\x00" + bytes([1 + salt % 2, len(kid)]) + kid
                       + bytes([salt]) * 12 + payload[:salt])
        elif layer == "unknown":
            payload = MARKER + b"zstd\x00" + payload
        elif layer == "truncate":
            payload = payload[: salt * len(payload) // 256]
        else:
            payload = _bomb(("bz2", "gzip", "lzma", "zlib")[salt % 4])
    return payload


# -- properties -------------------------------------------------------------------------------
def check_plain(value: Any, depth: int = 0) -> None:
    """Decoded values hold plain data and exception instances only."""
    if depth > 200 or isinstance(value, (*_PLAIN, BaseException)):
        return
    if isinstance(value, ChordPart):
        return check_plain([value.task_id, value.state, value.result], depth + 1)
    if isinstance(value, GroupResult):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            check_plain(key, depth + 1)
            check_plain(item, depth + 1)
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            check_plain(item, depth + 1)
        return None
    raise AssertionError(f"decoding produced a {type(value).__module__}.{type(value).__qualname__}")


def _ids(entry: str) -> tuple[str, str, str]:
    """A fresh task id, group id, and the record key a signature for ``entry`` binds to."""
    task_id, group_id = f"fz-{uuid.uuid4()}", f"fzg-{uuid.uuid4()}"
    key = (RECORDS.task(task_id) if entry in ("task", "many", "pushed")
           else RECORDS.group(group_id, ".j" if entry == "chord" else ""))
    return task_id, group_id, key


class Unwritable(Exception):
    """The store refused the raw write (e.g. an empty value): not a decode case."""


def _write(store: Any, key: str, payload: bytes) -> None:
    try:
        store.set(key, payload, 60)
    except Exception as exc:  # the store's own limits (e.g. empty values): the case is skipped
        raise Unwritable(f"{type(exc).__name__}: {exc}") from exc


def _read(backend: ResultBackend, entry: str, payload: bytes, raw: bool, task_id: str,
          group_id: str) -> Any:
    store, codec = backend.store, backend.codec
    if entry in ("task", "many", "pushed"):
        if not raw:  # record stores: the codec, and decoded row dicts as they hand them over
            row = _row(payload) if entry == "many" else None
            if row is not None:
                return codec.meta_from_decoded(row, RECORDS.task(task_id))
            return codec.decode_meta(payload, RECORDS.task(task_id))
        _write(store, backend.keys.task(task_id), payload)
        if entry == "task":
            return backend.get_task_meta(task_id, cache=False)
        if entry == "many":
            return backend.get_many([task_id, f"fz-missing-{task_id}"], cache=False)
        return codec.decode_meta(payload, RECORDS.task(task_id))  # what waiting._on_message does
    if entry in ("group", "restore"):
        if not raw:
            return check_group(codec.decode(payload, RECORDS.group(group_id)))
        _write(store, backend.keys.group(group_id), payload)
        if entry == "group":
            return backend.get_group_meta(group_id)
        return GroupResult.restore(group_id, backend)
    chords = backend.chords
    if chords is None:
        return check_group(codec.decode(payload, RECORDS.group(group_id, ".j")))
    return chords.decode_part(payload, group_id=group_id)


def _row(payload: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(payload.decode("utf-8"))
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def _forget(backend: ResultBackend, task_id: str, group_id: str) -> None:
    try:
        backend.store.delete_many([backend.keys.task(task_id),  # type: ignore[union-attr]
                                   backend.keys.group(group_id)])
    except Exception:  # noqa: BLE001 - cleanup only; the case's outcome stands
        pass


def fuzz_case(backend: ResultBackend, entry: str, base: bytes, layers: list[str], salt: int,
              stats: FuzzStats) -> None:
    """Wrap ``base`` in ``layers``, read it through ``entry``; assert the properties."""
    raw = isinstance(backend.store, KeyValueStore)
    task_id, group_id, key = _ids(entry)
    payload = wrap(base, layers, key, salt)
    before = len(sys.modules)
    modules = set(sys.modules)
    stats.cases += 1
    try:
        check_plain(_read(backend, entry, payload, raw, task_id, group_id))
        stats.outcomes["decoded"] += 1
    except ResultStoreError as exc:
        stats.outcomes[type(exc).__name__] += 1
    except Unwritable:
        stats.outcomes["unwritable"] += 1
    except Exception as exc:
        stats.untyped += 1
        raise AssertionError(f"{entry}: untyped {type(exc).__name__}: {exc!s:.300} "
                             f"reading {payload[:120]!r}") from exc
    finally:
        if raw:  # keep the store (memory:// over 100,000 cases) from growing
            _forget(backend, task_id, group_id)
    if len(sys.modules) != before:
        stats.imported |= set(sys.modules) - modules
        raise AssertionError(f"{entry}: decoding imported {sorted(set(sys.modules) - modules)}")


def warm_up(backend: ResultBackend) -> None:
    """Run each entry once on valid data, so first-use imports are not counted."""
    valid = json.dumps({"status": "FAILURE", "result": {"exc_type": "ValueError",
                        "exc_module": "builtins", "exc_message": ["x"]}}).encode()
    for kind in ("bz2", "gzip", "lzma", "zlib"):
        _bomb(kind)
    for entry in ENTRIES:
        for payload in (valid, wrap(valid, ["bz2", "lzma", "gzip", "zlib"], "", 0), b"[1]"):
            try:
                _read(backend, entry, payload, isinstance(backend.store, KeyValueStore),
                      *_ids(entry)[:2])
            except (ResultStoreError, Unwritable):
                pass


def fuzz_backend(backends: list[ResultBackend], examples: int, stats: FuzzStats | None = None
                 ) -> FuzzStats:
    """Run ``examples`` cases spread over ``backends``; raise on any broken property."""
    stats = stats or FuzzStats()
    for backend in backends:
        warm_up(backend)
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    @settings(max_examples=examples, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    @given(case=cases, which=st.integers(min_value=0, max_value=len(backends) - 1))
    def run(case: tuple[str, int, list[str], int], which: int) -> None:
        entry, seed, layers, salt = case
        fuzz_case(backends[which], entry, document(seed), layers, salt, stats)

    run()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start_rss
    assert grown < RSS_BUDGET, f"peak RSS grew by {grown >> 20} MiB while fuzzing"
    return stats


def main(argv: list[str] | None = None) -> int:
    """``python -m resultstore.testing.fuzz [N]``: N cases (100,000) on ``memory://``."""
    import resultstore

    args = sys.argv[1:] if argv is None else argv
    examples = int(args[0]) if args else 100_000
    backends = [resultstore.connect(f"memory://fuzz-{n}", **settings)
                for n, settings in enumerate(reading_settings())]
    stats = FuzzStats()
    warm_up(backends[0])
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for batch in range(0, examples, _BATCH):  # a fresh engine per batch bounds its own memory
        fuzz_backend(backends, min(_BATCH, examples - batch), stats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"cases run: {stats.cases}\nuntyped errors: {stats.untyped}\n"
          f"modules imported: {len(stats.imported)}\npeak RSS: {peak >> 10} MiB "
          f"(grew {(peak - start) >> 10} MiB while fuzzing)\n"
          f"outcomes: {dict(stats.outcomes.most_common())}")
    return 0 if (peak - start) * 1024 < RSS_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
