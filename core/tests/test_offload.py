"""Large-result offload (claim check) on memory:// stores: pointers, reads, integrity, lifecycle."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import pytest

import resultstore
from resultstore.client import AsyncResult, ResultSet
from resultstore.errors import ImproperlyConfigured, OffloadedResultMissing, OffloadError
from resultstore.offload import POINTER_FIELD, is_pointer

BIG = "x" * 50_000


@pytest.fixture
def spaces() -> tuple[str, str]:
    tag = uuid.uuid4().hex
    return f"memory://primary-{tag}", f"memory://offload-{tag}"


def _open(spaces: tuple[str, str], **settings: Any) -> resultstore.ResultBackend:
    primary, offload = spaces
    options = {"resultstore_offload_url": offload, "resultstore_offload_threshold": 10_000, **settings}
    return resultstore.connect(primary, **options)


def _raw_meta(spaces: tuple[str, str], task_id: str) -> dict[str, Any]:
    """What a reader without the feature sees."""
    return resultstore.connect(spaces[0]).get_task_meta(task_id, cache=False)


def test_big_results_become_pointers_small_ones_stay(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_done("big", BIG)
    backend.mark_as_done("small", 1)
    pointer = _raw_meta(spaces, "big")
    assert pointer["status"] == "SUCCESS" and pointer["task_id"] == "big"
    result = pointer["result"]
    assert set(result) == {POINTER_FIELD, "key", "size", "sha256", "location"}
    assert result["location"] == spaces[1] and result["size"] > 50_000
    stored = backend.offload.store.get(result["key"])  # type: ignore[union-attr]
    assert stored is not None and hashlib.sha256(stored).hexdigest() == result["sha256"]
    assert len(backend.store.get(backend.keys.task("big"))) < 500  # type: ignore[union-attr]
    assert _raw_meta(spaces, "small")["result"] == 1
    reader = _open(spaces)
    assert reader.get_task_meta("big")["result"] == BIG


def test_failures_are_never_offloaded(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_failure("f", ValueError("y" * 20_000))
    assert isinstance(_raw_meta(spaces, "f")["result"], ValueError)


class CountingMget:
    def __init__(self, backend: resultstore.ResultBackend) -> None:
        store = backend.offload.store  # type: ignore[union-attr]
        self.calls: list[int] = []
        real = store.mget

        def mget(keys: Any) -> Any:
            self.calls.append(len(keys))
            return real(keys)

        store.mget = mget  # type: ignore[method-assign]


def test_batched_reads_fetch_offloaded_results_in_one_call(spaces: tuple[str, str]) -> None:
    writer = _open(spaces)
    ids = [f"t{i}" for i in range(5)]
    for n, task_id in enumerate(ids):
        writer.mark_as_done(task_id, BIG + str(n))
    writer.mark_as_done("small", 2)
    reader = _open(spaces)
    counter = CountingMget(reader)
    metas = reader.get_many([*ids, "small"])
    assert [metas[t]["result"] for t in ids] == [BIG + str(n) for n in range(5)]
    assert metas["small"]["result"] == 2 and counter.calls == [5]
    joined = ResultSet([AsyncResult(t, backend=reader) for t in ids]).get(timeout=5)
    assert joined == [BIG + str(n) for n in range(5)]


def test_asyncio_reads(spaces: tuple[str, str]) -> None:
    writer = _open(spaces)
    writer.mark_as_done("a", BIG)
    writer.mark_as_done("b", BIG + "b")
    reader = _open(spaces)
    counter = CountingMget(reader)

    async def main() -> tuple[Any, Any]:
        one = await reader.aget_task_meta("a", cache=False)
        many = await reader.aget_many(["a", "b"], cache=False)
        await reader.aclose()
        return one, many

    one, many = asyncio.run(main())
    assert one["result"] == BIG and many["b"]["result"] == BIG + "b"
    assert counter.calls == [1, 2]  # one batched fetch per read, on a worker thread


def test_forget_deletes_pointer_and_object(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_done("big", BIG)
    key = _raw_meta(spaces, "big")["result"]["key"]
    backend.forget("big")
    assert backend.offload.store.get(key) is None  # type: ignore[union-attr]
    assert backend.get_task_meta("big")["status"] == "PENDING"


def test_pointer_and_object_share_the_expiry(spaces: tuple[str, str]) -> None:
    backend = _open(spaces, result_expires=120)
    backend.mark_as_done("big", BIG)
    key = _raw_meta(spaces, "big")["result"]["key"]
    primary = backend.store.space.data[backend.keys.task("big")][1]  # type: ignore[union-attr]
    obj = backend.offload.store.space.data[key][1]  # type: ignore[union-attr]
    assert primary is not None and obj is not None and 55 < obj - primary < 65


def test_cleanup_removes_expired_objects(spaces: tuple[str, str]) -> None:
    backend = _open(spaces, result_expires=120)
    backend.mark_as_done("big", BIG)
    key = _raw_meta(spaces, "big")["result"]["key"]
    space = backend.offload.store.space  # type: ignore[union-attr]
    space.data[key] = (space.data[key][0], 1.0)  # long expired
    assert backend.cleanup() >= 1
    assert key not in space.data


def test_missing_object_is_a_typed_error(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_done("big", BIG)
    backend.offload.store.delete(_raw_meta(spaces, "big")["result"]["key"])  # type: ignore[union-attr]
    with pytest.raises(OffloadedResultMissing, match="missing"):
        _open(spaces).get_task_meta("big")


def test_corrupt_object_is_refused(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_done("big", BIG)
    key = _raw_meta(spaces, "big")["result"]["key"]
    store = backend.offload.store  # type: ignore[union-attr]
    stored = store.get(key)
    store.set(key, stored.replace(b"xxxx", b"xxxy", 1), None)
    with pytest.raises(OffloadError, match="sha256"):
        _open(spaces).get_task_meta("big")


def test_pointer_to_another_task_is_refused(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_done("big", BIG)
    backend.store.set(backend.keys.task("victim"),  # type: ignore[union-attr]
                      backend.store.get(backend.keys.task("big")), None)  # type: ignore[union-attr]
    with pytest.raises(OffloadError, match="another task"):
        _open(spaces).get_task_meta("victim")


def test_oversized_object_is_refused_before_fetching(spaces: tuple[str, str]) -> None:
    _open(spaces).mark_as_done("big", BIG)
    with pytest.raises(OffloadError, match="resultstore_max_payload_size"):
        _open(spaces, resultstore_max_payload_size=20_000).get_task_meta("big")


def test_kept_success_keeps_its_object(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.mark_as_done("big", BIG)
    backend.mark_as_done("big", BIG + "second")  # refused: a SUCCESS is kept
    assert _open(spaces).get_task_meta("big")["result"] == BIG


def test_composes_with_encryption(spaces: tuple[str, str]) -> None:
    pytest.importorskip("cryptography", reason="aes-gcm needs cryptography")
    settings = {"resultstore_transforms": ["zlib", "aes-gcm"],
                "resultstore_encryption_keys": {"k1": b"\x01" * 32},
                "resultstore_offload_threshold": 100}
    backend = _open(spaces, **settings)
    backend.mark_as_done("big", BIG)
    obj_keys = list(backend.offload.store.space.data)  # type: ignore[union-attr]
    assert len(obj_keys) == 1
    assert backend.offload.store.get(obj_keys[0]).startswith(b"\x00rs:aes-gcm")  # type: ignore[union-attr]
    assert _open(spaces, **settings).get_task_meta("big")["result"] == BIG


def test_offload_store_must_be_key_value() -> None:
    with pytest.raises(ImproperlyConfigured, match="positive"):
        resultstore.connect("memory://", resultstore_offload_url="memory://o",
                            resultstore_offload_threshold=0)


def test_celery_app_conf_configures_the_same(spaces: tuple[str, str]) -> None:
    from celery import Celery

    from resultstore.config import Settings

    app = Celery("offload", set_as_current=False)
    app.conf.update(resultstore_offload_url=spaces[1], resultstore_offload_threshold=10_000)
    backend = resultstore.ResultBackend(resultstore.connect(spaces[0]).store, Settings(app.conf))
    backend.mark_as_done("big", BIG)
    assert is_pointer(_raw_meta(spaces, "big")["result"])
    assert _open(spaces).get_task_meta("big")["result"] == BIG


def test_chord_parts_are_offloaded_and_joined(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.set_chord_size("c", 3)
    backend.chord_part_return("c", "a", 0, "SUCCESS", BIG + "a")
    backend.chord_part_return("c", "b", 1, "SUCCESS", 1)
    counter = CountingMget(backend)
    parts = backend.chord_part_return("c", "d", 2, "SUCCESS", BIG + "d")
    assert parts is not None and [p.result for p in parts] == [BIG + "a", 1, BIG + "d"]
    assert counter.calls == [2]  # one batched fetch for the chord's offloaded parts
    stored = [v for chord in backend.store.space.chords.values()  # type: ignore[union-attr]
              for _, v in chord.parts.values()]
    assert stored and all(len(v) < 1000 for v in stored)


def test_corrupt_chord_part_is_refused(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    backend.set_chord_size("c", 1)
    store = backend.offload.store  # type: ignore[union-attr]
    real_set = store.set
    store.set = lambda key, value, ttl: real_set(key, value[:-1] + b"!", ttl)  # type: ignore[method-assign]
    with pytest.raises(OffloadError, match="sha256"):
        backend.chord_part_return("c", "a", 0, "SUCCESS", BIG)


def test_small_results_are_encoded_once(spaces: tuple[str, str]) -> None:
    backend = _open(spaces)
    calls: list[str] = []
    real = backend.codec.encode

    def encode(data: Any, key: str = "") -> bytes:
        calls.append(key)
        return real(data, key)

    backend.codec.encode = encode  # type: ignore[method-assign]
    backend.mark_as_done("small", 1)
    assert calls == ["celery-task-meta-small"]
