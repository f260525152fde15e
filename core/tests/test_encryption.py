"""Encryption at rest: the aes-gcm transform (rotation, refusals, composition, Celery settings)."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import pytest

pytest.importorskip("cryptography", reason="the aes-gcm transform needs cryptography")

import resultstore
from resultstore.encryption import AesGcmTransform, load_keys
from resultstore.errors import (
    DecodeError,
    DecryptionError,
    ImproperlyConfigured,
    PlaintextRefused,
    SecurityError,
    UnknownEncryptionKey,
)
from resultstore.masking import Masker, settings_secrets
from resultstore.transforms import MARKER

K1, K2 = b"\x01" * 32, b"\x02" * 32
#: Loaded by "tests.test_encryption:kms_keys"-style paths (a stand-in secret manager).
KMS_CALLS: list[int] = []


def kms_keys() -> dict[str, str]:
    KMS_CALLS.append(1)
    return {"kms-1": base64.b64encode(K2).decode("ascii"), "old": K1.hex()}


def _backend(space: str, **settings: Any) -> resultstore.ResultBackend:
    options = {"resultstore_transforms": ["zlib", "aes-gcm"],
               "resultstore_encryption_keys": {"k1": K1}, **settings}
    return resultstore.connect(f"memory://{space}", **options)


@pytest.fixture
def space() -> str:
    return f"enc-{uuid.uuid4().hex}"


def _raw(backend: resultstore.ResultBackend, task_id: str) -> bytes:
    payload = backend.store.get(backend.keys.task(task_id))
    assert payload is not None
    return payload


def test_roundtrip_and_nothing_in_clear(space: str) -> None:
    backend = _backend(space)
    backend.store_result("t", {"card": "4111-1111"}, "SUCCESS")
    assert backend.get_task_meta("t")["result"] == {"card": "4111-1111"}
    raw = _raw(backend, "t")
    assert raw.startswith(MARKER + b"aes-gcm\x00\x01\x02k1")
    assert b"4111" not in raw and b"SUCCESS" not in raw


def test_group_metas_and_chord_parts_are_encrypted(space: str) -> None:
    backend = _backend(space)
    backend.save_group("g", ("g", [("a", None), ("b", None)]))
    backend.set_chord_size("c", 2)
    backend.chord_part_return("c", "a", 0, "SUCCESS", "part-a-secret")
    parts = backend.chord_part_return("c", "b", 1, "SUCCESS", "part-b-secret")
    assert parts is not None and [p.result for p in parts] == ["part-a-secret", "part-b-secret"]
    assert backend.get_group_meta("g") == {"result": ["g", [["a", None], ["b", None]]]}
    space_data = backend.store.space  # type: ignore[attr-defined]
    stored = [v for v, _ in space_data.data.values()]
    stored += [v for chord in space_data.chords.values() for _, v in chord.parts.values()]
    assert stored and all(v.startswith(MARKER + b"aes-gcm\x00") for v in stored)
    assert not any(b"secret" in v for v in stored)


def test_rotation_write_k1_rotate_to_k2_read_both(space: str) -> None:
    old = _backend(space)
    old.store_result("written-with-k1", 1, "SUCCESS")
    rotated = _backend(space, resultstore_encryption_keys={"k2": K2, "k1": K1})
    rotated.store_result("written-with-k2", 2, "SUCCESS")
    assert _raw(rotated, "written-with-k2")[len(MARKER) + 8:][:4] == b"\x01\x02k2"
    assert rotated.get_task_meta("written-with-k1")["result"] == 1
    assert rotated.get_task_meta("written-with-k2")["result"] == 2
    # once k1 is retired, its payloads name an unknown key id
    retired = _backend(space, resultstore_encryption_keys={"k2": K2})
    assert retired.get_task_meta("written-with-k2")["result"] == 2
    with pytest.raises(UnknownEncryptionKey, match="'k1'"):
        retired.get_task_meta("written-with-k1")


def test_tampering_is_refused(space: str) -> None:
    backend = _backend(space)
    backend.store_result("t", "value", "SUCCESS")
    raw = bytearray(_raw(backend, "t"))
    raw[-20] ^= 0x01
    backend.store.set(backend.keys.task("t"), bytes(raw), None)
    with pytest.raises(DecryptionError, match="tampered"):
        backend.get_task_meta("t")


def test_truncated_and_unknown_version_are_refused(space: str) -> None:
    backend = _backend(space)
    prefix = MARKER + b"aes-gcm\x00"
    for body in (b"", b"\x01\x02k1" + b"n" * 12 + b"short", b"\x09\x00" + b"x" * 40):
        backend.store.set(backend.keys.task("t"), prefix + body, None)
        with pytest.raises(DecryptionError):
            backend.get_task_meta("t")


def test_wrong_key_under_the_same_id_is_refused(space: str) -> None:
    _backend(space).store_result("t", "value", "SUCCESS")
    with pytest.raises(DecryptionError, match="another key of the same id"):
        _backend(space, resultstore_encryption_keys={"k1": K2}).get_task_meta("t")


def test_unknown_key_id_is_refused(space: str) -> None:
    _backend(space).store_result("t", "value", "SUCCESS")
    with pytest.raises(UnknownEncryptionKey, match="'k1'"):
        _backend(space, resultstore_encryption_keys={"k9": K1}).get_task_meta("t")


def test_plaintext_is_refused_while_encryption_is_enabled(space: str) -> None:
    resultstore.connect(f"memory://{space}").store_result("plain", "value", "SUCCESS")
    resultstore.connect(f"memory://{space}", resultstore_transforms=["zlib"]).store_result(
        "zipped", "value", "SUCCESS")
    backend = _backend(space)
    with pytest.raises(PlaintextRefused, match="no transform marker"):
        backend.get_task_meta("plain")
    with pytest.raises(PlaintextRefused, match="'zlib'"):
        backend.get_task_meta("zipped")


def test_value_moved_to_another_task_is_refused(space: str) -> None:
    backend = _backend(space)
    backend.store_result("source", "only for source", "SUCCESS")
    backend.store.set(backend.keys.task("target"), _raw(backend, "source"), None)
    with pytest.raises(DecryptionError):
        backend.get_task_meta("target")


def test_reader_without_aes_gcm_gets_a_clear_error(space: str) -> None:
    _backend(space).store_result("t", "value", "SUCCESS")
    with pytest.raises(DecodeError, match="resultstore_encryption_keys"):
        resultstore.connect(f"memory://{space}").get_task_meta("t")


def test_composes_with_signing_and_celery_compression(space: str) -> None:
    settings = {"resultstore_transforms": ["zlib", "aes-gcm", "hmac-sha256"],
                "resultstore_signing_key": "sig", "result_compression": "gzip"}
    backend = _backend(space, **settings)
    backend.store_result("t", "x" * 10_000, "SUCCESS")
    raw = _raw(backend, "t")
    assert raw.startswith(MARKER + b"hmac-sha256\x00") and len(raw) < 1000  # compressed first
    assert backend.get_task_meta("t")["result"] == "x" * 10_000
    # the signature is checked before decryption: a forged outer layer is a SecurityError
    with pytest.raises(SecurityError):
        _backend(space, **{**settings, "resultstore_signing_key": "other"}).get_task_meta("t")


def test_keys_from_a_callable_path_loaded_once(space: str) -> None:
    KMS_CALLS.clear()
    backend = _backend(space, resultstore_encryption_keys=f"{__name__}:kms_keys")
    for n in range(3):
        backend.store_result(f"t{n}", n, "SUCCESS")
        assert backend.get_task_meta(f"t{n}")["result"] == n
    assert len(KMS_CALLS) == 1
    assert _raw(backend, "t0")[len(MARKER) + 8:].startswith(b"\x01\x05kms-1")
    assert load_keys(kms_keys) == {"kms-1": K2, "old": K1}


@pytest.mark.parametrize("keys, message", [
    (None, "needs resultstore_encryption_keys"),
    ({}, "needs resultstore_encryption_keys"),
    ({"k": b"short"}, "must be 32 bytes"),
    ({"k": "not base64 or hex"}, "must be 32 bytes"),
    ("no.such.module:keys", "cannot be imported"),
])
def test_bad_keys_are_configuration_errors(space: str, keys: Any, message: str) -> None:
    backend = _backend(space, resultstore_encryption_keys=keys)
    with pytest.raises(ImproperlyConfigured, match=message):
        backend.store_result("t", 1, "SUCCESS")


def test_encryption_must_follow_compression() -> None:
    with pytest.raises(ImproperlyConfigured, match="Only hmac-sha256 may follow aes-gcm"):
        resultstore.connect("memory://", resultstore_transforms=["aes-gcm", "zlib"],
                            resultstore_encryption_keys={"k1": K1})


def test_keys_never_in_reprs_or_errors(space: str) -> None:
    text_key = base64.b64encode(os.urandom(32)).decode("ascii")
    backend = _backend(space, resultstore_encryption_keys={"k1": text_key})
    backend.store_result("t", 1, "SUCCESS")
    chain = backend.codec.transforms
    shown = repr(chain.enabled) + repr(backend)
    assert text_key not in shown and "k1" in repr(chain.enabled)
    assert repr(AesGcmTransform({"k1": K1})) == "AesGcmTransform(key_ids=unloaded)"
    masked = Masker(settings_secrets({"resultstore_encryption_keys": {"k1": text_key}}))
    assert text_key not in masked(f"boom {text_key}")
    with pytest.raises(ImproperlyConfigured) as info:
        _backend(space, resultstore_encryption_keys={"k1": text_key[:-8]}).store_result("t", 1, "SUCCESS")
    assert text_key[:-8] not in str(info.value)


def test_celery_app_conf_configures_the_same(space: str) -> None:
    from celery import Celery

    from resultstore.config import Settings

    app = Celery("enc", set_as_current=False)
    app.conf.update(resultstore_transforms=["zlib", "aes-gcm"],
                    resultstore_encryption_keys={"k1": K1})
    backend = resultstore.ResultBackend(
        resultstore.connect(f"memory://{space}").store, Settings(app.conf))
    backend.store_result("t", "via app.conf", "SUCCESS")
    assert _backend(space).get_task_meta("t")["result"] == "via app.conf"
