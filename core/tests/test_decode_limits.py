"""Issue 14 items 1-3 and 20: bombs, signing first, signatures bound to their key, clear errors."""

from __future__ import annotations

import bz2
import lzma
import tracemalloc
import zlib
from collections.abc import Callable

import pytest

import resultstore
from resultstore import Settings, inflate
from resultstore.codec import COMPRESSED_PAYLOAD_MAGIC
from resultstore.errors import DecodeError, ImproperlyConfigured, SecurityError
from resultstore.keys import RECORDS
from resultstore.transforms import MARKER, HmacSigner, PayloadContext

LIMIT = 1 << 20  # 1 MiB
BOMB = 16 * LIMIT  # inflates to 16 MiB


def _stream(compressor: object, size: int) -> bytes:
    block = b"\0" * (1 << 20)
    out = [compressor.compress(block) for _ in range(size // len(block))]  # type: ignore[attr-defined]
    return b"".join(out) + compressor.flush()  # type: ignore[attr-defined]


def _celery(content_type: str, body: bytes) -> bytes:
    return COMPRESSED_PAYLOAD_MAGIC + content_type.encode() + b"\x00" + body


BOMBS: dict[str, Callable[[int], bytes]] = {
    "bz2": lambda n: _celery("application/x-bz2", _stream(bz2.BZ2Compressor(9), n)),
    "gzip": lambda n: _celery("application/x-gzip", _stream(zlib.compressobj(9), n)),
    "lzma": lambda n: _celery("application/x-lzma", _stream(lzma.LZMACompressor(), n)),
    "zlib-transform": lambda n: MARKER + b"zlib\x00" + _stream(zlib.compressobj(9), n),
}


def _backend(**settings: object) -> resultstore.ResultBackend:
    return resultstore.connect("memory://", **settings)


@pytest.mark.parametrize("codec", sorted(BOMBS))
def test_bomb_is_refused_within_the_limit(codec: str) -> None:
    backend = _backend(resultstore_max_payload_size=LIMIT)
    backend.store.set(backend.keys.task("bomb"), BOMBS[codec](BOMB), None)
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError) as err:
            backend.get_task_meta("bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value).startswith("Refusing a stored")
    assert f"resultstore_max_payload_size={LIMIT}" in str(err.value)
    dictionary = 9 * LIMIT if codec == "lzma" else 0  # xz -6: an 8 MiB window, whatever the size
    assert peak < 3 * LIMIT + dictionary, f"{codec}: {peak} bytes traced while refusing a {BOMB}-byte bomb"


@pytest.mark.parametrize("codec", sorted(BOMBS))
def test_payload_under_the_limit_still_reads(codec: str) -> None:
    backend = _backend(resultstore_max_payload_size=LIMIT)
    text = "x" * (LIMIT // 2)
    payload = backend.encode({"status": "SUCCESS", "result": text})
    if codec == "zlib-transform":
        payload = MARKER + b"zlib\x00" + zlib.compress(payload)
    else:
        compress = {"bz2": bz2.compress, "gzip": zlib.compress, "lzma": lzma.compress}[codec]
        content_type = {"bz2": "application/x-bz2", "gzip": "application/x-gzip",
                        "lzma": "application/x-lzma"}[codec]
        payload = _celery(content_type, compress(payload))
    backend.store.set(backend.keys.task("ok"), payload, None)
    assert backend.get_task_meta("ok")["result"] == text


def test_uncompressed_payload_over_the_limit_is_refused() -> None:
    backend = _backend(resultstore_max_payload_size=1000)
    backend.mark_as_done("big", "y" * 2000)
    with pytest.raises(DecodeError, match="resultstore_max_payload_size=1000"):
        backend.get_task_meta("big")


def test_truncated_and_concatenated_streams() -> None:
    whole = bz2.compress(b"a") + bz2.compress(b"b")
    assert inflate.inflate(whole, "bz2", 10, "t") == b"ab"
    with pytest.raises(DecodeError, match="truncated"):
        inflate.inflate(zlib.compress(b"abc" * 100)[:-6], "zlib", 1000, "t")
    with pytest.raises(DecodeError, match="Corrupt"):
        inflate.inflate(b"not lzma", "lzma", 1000, "t")
    assert inflate.inflate(zlib.compress(b"x" * 50), "zlib", 0, "t") == b"x" * 50


def test_max_payload_size_setting_sources() -> None:
    assert Settings().max_payload_size == inflate.DEFAULT_MAX_PAYLOAD_SIZE
    assert _backend(resultstore_max_payload_size=123).codec.max_payload_size == 123
    assert Settings({"resultstore_max_payload_size": "456"}).max_payload_size == 456
    celery = pytest.importorskip("celery")
    app = celery.Celery(set_as_current=False)
    app.conf.resultstore_max_payload_size = 789
    assert Settings(app.conf).max_payload_size == 789
    with pytest.raises(ImproperlyConfigured, match="resultstore_max_payload_size"):
        Settings({"resultstore_max_payload_size": -1}).max_payload_size  # noqa: B018


# -- item 2: with signing required, verify before anything else ----------------------------
SIGNED = {"resultstore_transforms": ["zlib", "hmac-sha256"], "resultstore_signing_key": "k1"}


@pytest.fixture
def inflations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = inflate.inflate

    def spy(data: bytes, method: str, limit: int, what: str) -> bytes:
        calls.append(method)
        return real(data, method, limit, what)

    monkeypatch.setattr("resultstore.transforms.inflate", spy)
    monkeypatch.setattr("resultstore.codec.compression.inflate", spy)
    return calls


@pytest.mark.parametrize("payload", [
    pytest.param(MARKER + b"zlib\x00" + zlib.compress(MARKER + b"zlib\x00" + zlib.compress(b"{}")),
                 id="unsigned-zlib-layers"),
    pytest.param(_celery("application/x-bz2", bz2.compress(b"{}")), id="unsigned-celery-bz2"),
    pytest.param(MARKER + b"hmac-sha256\x00" + b"\0" * 32 + MARKER + b"zlib\x00"
                 + zlib.compress(b"{}"), id="bad-signature"),
    pytest.param(b'{"status": "SUCCESS", "result": 1}', id="plain-json"),
])
def test_signing_is_checked_before_anything_else(payload: bytes, inflations: list[str]) -> None:
    backend = _backend(**SIGNED)
    backend.store.set(backend.keys.task("t"), payload, None)
    with pytest.raises(SecurityError):
        backend.get_task_meta("t")
    assert inflations == [], "a payload was inflated before its signature was checked"


def test_signer_must_be_the_outer_layer() -> None:
    with pytest.raises(ImproperlyConfigured, match="must be the last"):
        _backend(resultstore_transforms=["hmac-sha256", "zlib"], resultstore_signing_key="k")


# -- item 3: a signature is bound to the record it was written for ------------------------
def test_signed_value_copied_to_another_task_is_refused() -> None:
    backend = _backend(**SIGNED)
    backend.mark_as_failure("a", ValueError("for a only"))
    backend.store.set(backend.keys.task("b"), backend.store.get(backend.keys.task("a")), None)
    assert isinstance(backend.get_task_meta("a")["result"], ValueError)
    with pytest.raises(SecurityError, match="celery-task-meta-b"):
        backend.get_task_meta("b")
    with pytest.raises(SecurityError):
        backend.get_many(["b"])


def test_signed_group_copied_to_another_group_is_refused() -> None:
    backend = _backend(**SIGNED)
    backend.save_group("g1", ("g1", [("t1", None)]))
    backend.store.set(backend.keys.group("g2"), backend.store.get(backend.keys.group("g1")), None)
    assert backend.get_group_meta("g1") == {"result": ["g1", [["t1", None]]]}
    with pytest.raises(SecurityError):
        backend.get_group_meta("g2")


def test_signature_binding_ignores_global_keyprefix() -> None:
    writer = _backend(**SIGNED, result_backend_transport_options={"global_keyprefix": "app1"})
    writer.mark_as_done("t", 5)
    payload = writer.store.get(writer.keys.task("t"))
    reader = _backend(**SIGNED)
    reader.store.set(reader.keys.task("t"), payload, None)
    assert reader.get_task_meta("t")["result"] == 5


def test_values_signed_without_a_key_binding_are_refused() -> None:
    backend = _backend(**SIGNED)
    body = backend.codec.serializer.dumps({"status": "SUCCESS", "result": 1})
    import hashlib
    import hmac

    unbound = MARKER + b"hmac-sha256\x00" + hmac.new(b"k1", body, hashlib.sha256).digest() + body
    backend.store.set(backend.keys.task("old"), unbound, None)
    with pytest.raises(SecurityError, match="does not match"):
        backend.get_task_meta("old")


def test_signer_mac_depends_on_key() -> None:
    signer = HmacSigner("k")
    one = signer.encode(b"x", PayloadContext(RECORDS.task("1")))
    assert signer.decode(one, PayloadContext(RECORDS.task("1"))) == b"x"
    with pytest.raises(SecurityError):
        signer.decode(one, PayloadContext(RECORDS.task("2")))


# -- item 20: the missing-transform error names the transform -------------------------------
@pytest.mark.parametrize(("writer", "named"), [
    ({"resultstore_transforms": ["zlib", "hmac-sha256"], "resultstore_signing_key": "s"},
     "'hmac-sha256'"),
    ({"resultstore_transforms": ["hmac-sha256"], "resultstore_signing_key": "s"}, "'hmac-sha256'"),
], ids=["zlib-signed", "signed"])
def test_missing_transform_error_names_it(writer: dict[str, object], named: str,
                                          request: pytest.FixtureRequest) -> None:
    url = f"memory://{request.node.callspec.id}"
    resultstore.connect(url, **writer).mark_as_done("t", "payload")
    with pytest.raises(DecodeError) as err:
        resultstore.connect(url).get_task_meta("t")
    message = str(err.value)
    assert named in message and "resultstore_transforms" in message
    assert "utf-16" not in message and "utf-8" not in message


def test_unknown_transform_marker_is_named() -> None:
    backend = _backend()
    backend.store.set(backend.keys.task("t"), MARKER + b"zstd\x00abc", None)
    with pytest.raises(DecodeError, match="'zstd' transform"):
        backend.get_task_meta("t")
