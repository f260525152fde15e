"""Copy every task result and saved group from one store to another (``resultstore migrate``).

>>> import resultstore
>>> src, dst = resultstore.connect("memory://m-src"), resultstore.connect("memory://m-dst")
>>> src.mark_as_done("t1", 1)
1
>>> migration = Migration(src, dst)
>>> migration.copy(migration.listing()).copied
1
>>> migration.verify(migration.listing()).identical
True

The source must list its records (``scan`` capability).  Records are read and written in
batches; each batch first reads the destination, so a record already there is not written
again: a run stopped anywhere (Ctrl-C, a crash) is resumed by running it again, and nothing
is lost or duplicated.  A destination record in a ready state (SUCCESS, FAILURE, REVOKED) that
differs from the source's is kept, never overwritten (counted as ``kept``); SUCCESS is also
guarded at the write itself, as every write of core.  Remaining lives are kept where the source
reports them (``ttl`` capability); elsewhere the destination's expiry settings apply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import states
from .backend import ResultBackend
from .codec import check_group
from .errors import DecodeError
from .keys import RECORDS
from .spec import Capability, KeyValueStore, MetaStore

__all__ = ["Migration", "Tally", "Verdict", "digest"]

Item = tuple[str, str]  # ("task" | "group", id)
Meta = dict[str, Any]
_SKIPPED_FIELDS = frozenset({"task_id"})


def _normal_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    return value


def digest(meta: Meta | None) -> str:
    """A digest of a record's content, the same whichever store shape holds it.

    Unset fields (``None``, empty children) and the redundant ``task_id`` are left out and
    ``date_done`` is compared as naive UTC, so a meta copied into a SQL row and read back
    digests like the original.
    """
    if meta is None:
        return ""
    norm = {k: (_normal_date(v) if k == "date_done" else v) for k, v in meta.items()
            if k not in _SKIPPED_FIELDS and v not in (None, [], ())}
    text = json.dumps(norm, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Tally:
    """What a copy did, per record."""

    copied: int = 0       # written to the destination
    same: int = 0         # already there, identical (an earlier or interrupted run)
    kept: int = 0         # the destination holds another ready state: never overwritten
    vanished: int = 0     # listed but gone when read (expired meanwhile)
    unreadable: int = 0   # the source value does not decode (reported, not copied)
    unreadable_ids: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.copied + self.same + self.kept + self.vanished + self.unreadable


@dataclass
class Verdict:
    """The verify pass: counts and order-independent digests of both sides."""

    source: int = 0
    matching: int = 0
    missing: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    source_digest: str = ""
    destination_digest: str = ""

    @property
    def identical(self) -> bool:
        return not self.missing and not self.differing


class Migration:
    """One copy from ``src`` to ``dst`` (both :class:`ResultBackend`)."""

    def __init__(self, src: ResultBackend, dst: ResultBackend, *, batch: int = 500,
                 workers: int = 8, dry_run: bool = False) -> None:
        self.src, self.dst = src, dst
        self.batch, self.workers, self.dry_run = max(1, batch), max(1, workers), dry_run
        #: True when remaining lives are read from the source and kept.
        self.keeps_ttl = (isinstance(src.store, KeyValueStore) and src.has(Capability.TTL)
                          and isinstance(dst.store, KeyValueStore))

    def listing(self) -> list[Item]:
        """Every task and group id of the source (``NotSupported`` if it cannot list)."""
        return ([("task", t) for t in self.src.task_ids()]
                + [("group", g) for g in self.src.group_ids()])

    def batches(self, items: Sequence[Item]) -> Iterable[tuple[str, list[str]]]:
        for kind in ("task", "group"):
            ids = [i for k, i in items if k == kind]
            for start in range(0, len(ids), self.batch):
                yield kind, ids[start:start + self.batch]

    # -- copying ---------------------------------------------------------------------
    def copy(self, items: Sequence[Item],
             progress: Callable[[int], None] | None = None) -> Tally:
        """Copy ``items``; ``progress(n)`` after each batch of ``n`` records."""
        tally = Tally()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="resultstore-migrate") as pool:
            for kind, ids in self.batches(items):
                self._copy_batch(pool, kind, ids, tally)
                if progress is not None:
                    progress(len(ids))
        return tally

    def _copy_batch(self, pool: ThreadPoolExecutor, kind: str, ids: list[str],
                    tally: Tally) -> None:
        before = len(tally.unreadable_ids)
        metas = read(self.src, kind, ids, tally)
        bad = set(tally.unreadable_ids[before:])
        lives = self._lives(kind, ids)
        current = read(self.dst, kind, ids)
        writes: list[tuple[str, Meta, float | None]] = []
        for task_id, meta, life, there in zip(ids, metas, lives, current, strict=True):
            if meta is None:
                tally.vanished += task_id not in bad
            elif there is not None and digest(there) == digest(meta):
                tally.same += 1
            elif there is not None and there.get("status") in states.READY_STATES:
                tally.kept += 1
            else:
                writes.append((task_id, meta, life))
        if self.dry_run:
            tally.copied += len(writes)
            return
        put = self._put_task if kind == "task" else self._put_group
        for wrote in pool.map(lambda w: put(*w), writes):
            if wrote:
                tally.copied += 1
            else:
                tally.kept += 1  # a SUCCESS landed in the destination meanwhile

    def _lives(self, kind: str, ids: list[str]) -> list[float | None]:
        if self.keeps_ttl:
            keys = self.src.keys
            names = [keys.task(i) if kind == "task" else keys.group(i) for i in ids]
            return self.src.store.ttls(names)  # type: ignore[union-attr]
        return [None] * len(ids)

    def _ttl(self, life: float | None, state: str | None) -> float | None:
        if self.keeps_ttl:
            return life
        return self.dst.expires_for(str(state)) if state else self.dst.expires

    def _put_task(self, task_id: str, meta: Meta, life: float | None) -> bool:
        ttl = self._ttl(life, meta.get("status"))
        return bool(self.dst._write("store_result", self.dst.records.put, task_id, meta, ttl,
                                    task_id=task_id, state=meta.get("status")))

    def _put_group(self, group_id: str, meta: Meta, life: float | None) -> bool:
        self.dst._write("save_group", self.dst.records.put_group, group_id, meta,
                        self._ttl(life, None))
        return True

    # -- verifying -------------------------------------------------------------------
    def verify(self, items: Sequence[Item],
               progress: Callable[[int], None] | None = None) -> Verdict:
        """Compare every listed record on both sides (counts and digests)."""
        verdict = Verdict()
        src_sum, dst_sum = hashlib.sha256(), hashlib.sha256()
        for kind, ids in self.batches(sorted(items)):
            for item_id, mine, theirs in zip(ids, read(self.src, kind, ids, Tally()),
                                             read(self.dst, kind, ids), strict=True):
                if mine is None:
                    continue  # expired since listed
                verdict.source += 1
                ours, copy = digest(mine), digest(theirs)
                src_sum.update(f"{kind}:{item_id}:{ours}\n".encode())
                dst_sum.update(f"{kind}:{item_id}:{copy}\n".encode())
                if theirs is None:
                    verdict.missing.append(item_id)
                elif copy != ours:
                    verdict.differing.append(item_id)
                else:
                    verdict.matching += 1
            if progress is not None:
                progress(len(ids))
        verdict.source_digest, verdict.destination_digest = src_sum.hexdigest(), dst_sum.hexdigest()
        return verdict


def read(backend: ResultBackend, kind: str, ids: list[str], tally: Tally | None = None
         ) -> list[Meta | None]:
    """Stored metas (as written: exceptions as dicts) of ``ids``, one batched read for tasks.

    A value that does not decode is ``None`` and, with ``tally``, counted as unreadable.
    """
    store = backend.store
    if isinstance(store, MetaStore):
        if kind == "task":
            found = backend._read("get_many", store.get_many_meta, ids)
            return [None if (m := found.get(i)) is None else dict(m) for i in ids]
        return [backend._read("restore_group", store.get_group, i) for i in ids]
    keys = [backend.keys.task(i) if kind == "task" else backend.keys.group(i) for i in ids]
    payloads = backend._read("get_many", store.mget, keys)
    metas: list[Meta | None] = []
    for item_id, payload in zip(ids, payloads, strict=True):
        record = RECORDS.task(item_id) if kind == "task" else RECORDS.group(item_id)
        try:
            meta = None if payload is None else backend.codec.decode(payload, record)
            if meta is not None and kind == "group":
                check_group(meta, record)
            elif meta is not None and not isinstance(meta, dict):
                raise DecodeError(f"{record} is not a task meta")
        except DecodeError:
            meta = None
            if tally is not None:
                tally.unreadable += 1
                tally.unreadable_ids.append(item_id)
        metas.append(meta)
    return metas
