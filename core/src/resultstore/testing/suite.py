"""The conformance tests.  See :mod:`resultstore.testing` for how to use them."""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from .. import states
from ..backend import ResultBackend
from ..codec import json_dumps
from ..errors import DecodeError, DecryptionError, NotSupported, SecurityError
from ..keys import RECORDS
from ..spec import Capability, KeyValueStore
from .faults import CallCounter
from .kit import BackendKit, MakeBackend, requires
from .races import chords_complete_once, guarded_writes_keep_success

__all__ = ["ConformanceSuite", "requires", "KitError"]



class KitError(Exception):
    """An exception class the kit raises and expects back with its own type."""


def _record_ttls(store: Any) -> list[Any]:
    """Record the ``ttl`` argument of every write the store receives from now on."""
    seen: list[Any] = []
    for name in ("set", "set_many", "set_unless_prefix", "incr", "chord_set_size", "chord_add",
                 "chord_grow"):
        method = getattr(store, name, None)
        if method is None:
            continue
        signature = inspect.signature(method)

        def spy(*args: Any, __method: Any = method, __sig: Any = signature, **kwargs: Any) -> Any:
            seen.append(__sig.bind(*args, **kwargs).arguments.get("ttl"))
            return __method(*args, **kwargs)

        setattr(store, name, spy)
    return seen


def _uid(label: str = "t") -> str:
    return f"{label}-{uuid.uuid4()}"


class ConformanceSuite(BackendKit):
    """Inherit and provide ``make_backend``; every test below then runs on your store."""

    #: Largest value the kit stores (override for stores with a smaller item limit).
    max_value_size: int = 2 * 1024 * 1024
    #: Seconds the kit waits past a TTL before expecting the entry gone.
    expiry_grace: float = 1.5
    #: Rounds of the SUCCESS-versus-FAILUREs write race (raise it for cheap stores).
    guarded_race_rounds: int = 5

    def meta_store_expires(self, backend: ResultBackend) -> float | None:
        """A MetaStore's own ``result_expires`` (seconds, ``None`` for never).

        By default ``store.config.expires`` (the shape of the bundled record
        stores); override it if your store keeps it elsewhere.
        """
        config = getattr(backend.store, "config", None)
        if not hasattr(config, "expires"):
            pytest.fail(f"{type(backend.store).__name__} is a MetaStore without "
                        f"config.expires: override meta_store_expires")
        return config.expires  # type: ignore[union-attr, no-any-return]

    # -- basic results --------------------------------------------------------
    def test_success_roundtrip(self, backend: ResultBackend) -> None:
        task_id = _uid()
        assert backend.mark_as_done(task_id, {"n": [1, 2.5, "x", None]}) == {"n": [1, 2.5, "x", None]}
        meta = backend.get_task_meta(task_id)
        assert meta["status"] == states.SUCCESS
        assert meta["result"] == {"n": [1, 2.5, "x", None]}
        assert meta["task_id"] == task_id
        assert meta["date_done"] is not None
        assert backend.task_result_exists(task_id)

    def test_unknown_is_pending(self, backend: ResultBackend) -> None:
        task_id = _uid()
        assert backend.get_task_meta(task_id) == {"status": states.PENDING, "result": None}
        assert not backend.task_result_exists(task_id)

    def test_unready_states(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_started(task_id, pid=7, hostname="w@h")
        meta = backend.get_task_meta(task_id)
        assert (meta["status"], meta["result"], meta["date_done"]) == (
            states.STARTED, {"pid": 7, "hostname": "w@h"}, None)
        backend.mark_as_retry(task_id, KeyError("k"), "tb")
        meta = backend.get_task_meta(task_id)
        assert meta["status"] == states.RETRY
        assert isinstance(meta["result"], KeyError) and meta["traceback"] == "tb"

    def test_failure_keeps_exception_type(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_failure(task_id, KitError("boom", 3), traceback="Traceback ...")
        meta = backend.get_task_meta(task_id)
        assert meta["status"] == states.FAILURE
        assert type(meta["result"]) is KitError
        assert meta["result"].args == ("boom", 3)
        assert meta["traceback"] == "Traceback ..."

    def test_revoked(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_revoked(task_id, "terminated")
        meta = backend.get_task_meta(task_id)
        assert meta["status"] == states.REVOKED
        assert type(meta["result"]).__name__ == "TaskRevokedError"
        assert meta["result"].args == ("terminated",)

    def test_success_is_never_overwritten(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_done(task_id, 1)
        backend.mark_as_failure(task_id, ValueError("late duplicate"))
        backend.store_result(task_id, None, states.STARTED)
        meta = backend.get_task_meta(task_id, cache=False)
        assert (meta["status"], meta["result"]) == (states.SUCCESS, 1)

    def test_extended_meta_and_request_fields(self, make_backend: MakeBackend) -> None:
        backend = make_backend(result_extended=True)
        task_id = _uid()
        request = SimpleNamespace(
            task="proj.add", args=[2, 3], kwargs={"z": 1}, hostname="w1@host", retries=2,
            delivery_info={"routing_key": "celery"}, group="g-1", parent_id="p-1",
            children=[(("c-1", None), None)],
        )
        backend.mark_as_done(task_id, 5, request=request)
        meta = backend.get_task_meta(task_id)
        assert {k: meta[k] for k in ("name", "args", "kwargs", "worker", "retries", "queue",
                                     "group_id", "parent_id")} == {
            "name": "proj.add", "args": [2, 3], "kwargs": {"z": 1}, "worker": "w1@host",
            "retries": 2, "queue": "celery", "group_id": "g-1", "parent_id": "p-1"}
        assert meta["children"] == [[["c-1", None], None]]

    def test_unicode_ids_and_values(self, backend: ResultBackend) -> None:
        task_id = _uid("zażółć-日本-🙂")
        backend.mark_as_done(task_id, "gęślą jaźń 🙂")
        assert backend.get_task_meta(task_id)["result"] == "gęślą jaźń 🙂"

    def test_large_value(self, backend: ResultBackend) -> None:
        task_id = _uid()
        value = "x" * (self.max_value_size - 4096)
        backend.mark_as_done(task_id, value)
        assert backend.get_task_meta(task_id, cache=False)["result"] == value

    # -- hostile or broken payloads ------------------------------------------------
    def _raw_set(self, backend: ResultBackend, task_id: str, payload: bytes) -> None:
        assert isinstance(backend.store, KeyValueStore)
        backend.store.set(backend.keys.task(task_id), payload, 60)

    def test_undecodable_payload_is_decode_error(self, backend: ResultBackend) -> None:
        if not isinstance(backend.store, KeyValueStore):
            pytest.skip("record stores keep decoded rows")
        task_id = _uid()
        self._raw_set(backend, task_id, b"\xff\xfe not json")
        with pytest.raises(DecodeError):
            backend.get_task_meta(task_id)

    def test_hostile_exception_dict_is_refused(self, backend: ResultBackend) -> None:
        if not isinstance(backend.store, KeyValueStore):
            pytest.skip("record stores keep decoded rows")
        task_id = _uid()
        hostile = {"status": "FAILURE", "task_id": task_id, "result": {
            "exc_type": "system", "exc_module": "os", "exc_message": ["touch /tmp/pwned"]}}
        self._raw_set(backend, task_id, json_dumps(hostile))
        with pytest.raises(SecurityError):
            backend.get_task_meta(task_id)

    def test_missing_exception_class_gets_standin(self, backend: ResultBackend) -> None:
        if not isinstance(backend.store, KeyValueStore):
            pytest.skip("record stores keep decoded rows")
        task_id = _uid()
        payload = {"status": "FAILURE", "task_id": task_id, "result": {
            "exc_type": "VanishedError", "exc_module": "no_such_module_xyz", "exc_message": ["gone"]}}
        self._raw_set(backend, task_id, json_dumps(payload))
        exc = backend.get_task_meta(task_id)["result"]
        assert isinstance(exc, Exception) and type(exc).__name__ == "VanishedError"
        assert exc.args == ("gone",)

    # -- cache and forget -------------------------------------------------------
    def test_cache_holds_only_success(self, make_backend: MakeBackend) -> None:
        backend = make_backend(result_cache_max=10)
        done, failed = _uid(), _uid()
        backend.mark_as_done(done, 1)
        backend.mark_as_failure(failed, ValueError("x"))
        backend.get_task_meta(done)
        backend.get_task_meta(failed)
        assert backend.is_cached(done) and not backend.is_cached(failed)
        backend.forget(done)
        assert not backend.is_cached(done)
        assert backend.get_task_meta(done)["status"] == states.PENDING

    def test_cache_disabled_by_default(self, backend: ResultBackend) -> None:
        task_id = _uid()
        backend.mark_as_done(task_id, 1)
        backend.get_task_meta(task_id)
        assert not backend.is_cached(task_id)

    # -- batches ---------------------------------------------------------------
    def test_get_many(self, backend: ResultBackend) -> None:
        ids = [_uid() for _ in range(25)]
        for i, task_id in enumerate(ids[:20]):
            backend.mark_as_done(task_id, i)
        metas = backend.get_many(ids)
        assert list(metas) == ids
        assert [metas[t]["result"] for t in ids[:20]] == list(range(20))
        assert all(metas[t]["status"] == states.PENDING for t in ids[20:])

    @requires(Capability.BATCH)
    def test_get_many_is_one_round_trip(self, backend: ResultBackend) -> None:
        ids = [_uid() for _ in range(1000)]
        for task_id in ids[::10]:
            backend.mark_as_done(task_id, task_id)
        batched, single = (("mget", "get") if isinstance(backend.store, KeyValueStore)
                           else ("get_many_meta", "get_meta"))
        with CallCounter(backend.store).install((batched, single)) as counter:
            metas = backend.get_many(ids)
        assert counter.calls[batched] == 1 and counter.calls[single] == 0
        assert sum(m["status"] == states.SUCCESS for m in metas.values()) == 100

    # -- groups ----------------------------------------------------------------
    def test_group_save_restore_delete(self, backend: ResultBackend) -> None:
        group_id = _uid("g")
        as_tuple = [[group_id, None], [[["t1", None], None], [["t2", [["p0", None], None]], None]]]
        backend.save_group(group_id, as_tuple)
        assert backend.get_group_meta(group_id) == {"result": as_tuple}
        backend.delete_group(group_id)
        assert backend.get_group_meta(group_id) is None

    # -- expiry ------------------------------------------------------------------
    def test_expiry(self, make_backend: MakeBackend) -> None:
        # 2 s, not 1: on a loaded machine a write plus a read through an HTTP store could take
        # longer than a 1 s lifetime (cosmosdbsql's first read already saw it expired)
        backend = make_backend(result_expires=2)
        task_id = _uid()
        backend.mark_as_done(task_id, 1)
        assert backend.get_task_meta(task_id)["status"] == states.SUCCESS
        time.sleep(2 + self.expiry_grace)
        backend.cleanup()
        assert backend.get_task_meta(task_id)["status"] == states.PENDING

    def test_expires_none_never_expires(self, make_backend: MakeBackend) -> None:
        """``result_expires=None`` means never (Celery), not the one-day default."""
        backend = make_backend(result_expires=None)
        assert backend.expires is None and backend.settings.chord_expires is None
        ttls = _record_ttls(backend.store)
        ok, bad, group_id = _uid(), _uid(), _uid("g")
        backend.mark_as_done(ok, 1)
        backend.mark_as_failure(bad, ValueError("x"))
        backend.save_group(group_id, [[group_id, None], [[[ok, None], None]]])
        if isinstance(backend.store, KeyValueStore):
            assert ttls and set(ttls) == {None}, f"TTLs given to the store: {ttls}"
        else:  # a MetaStore applies expiry itself
            assert self.meta_store_expires(backend) is None
        if Capability.CLEANUP in backend.capabilities:
            backend.cleanup()
        assert backend.get_task_meta(ok)["status"] == states.SUCCESS
        assert backend.get_task_meta(bad)["status"] == states.FAILURE

    def test_failure_expiry_setting(self, make_backend: MakeBackend) -> None:
        backend = make_backend(result_expires=3600, result_failure_expires=1)
        ok, bad = _uid(), _uid()
        backend.mark_as_done(ok, 1)
        backend.mark_as_failure(bad, ValueError("x"))
        time.sleep(1 + self.expiry_grace)
        backend.cleanup()
        assert backend.get_task_meta(ok)["status"] == states.SUCCESS
        assert backend.get_task_meta(bad)["status"] == states.PENDING

    # -- encodings ---------------------------------------------------------------
    def test_celery_compression_roundtrip(self, make_backend: MakeBackend) -> None:
        writer = make_backend(result_compression="gzip")
        reader = make_backend()
        task_id = _uid()
        writer.mark_as_done(task_id, "y" * 5000)
        assert reader.get_task_meta(task_id)["result"] == "y" * 5000

    def test_transforms_roundtrip_and_refusal(self, make_backend: MakeBackend) -> None:
        settings = {"resultstore_transforms": ["zlib", "hmac-sha256"],
                    "resultstore_signing_key": "k1"}
        writer = make_backend(**settings)
        task_id = _uid()
        writer.mark_as_done(task_id, {"secret": 1})
        assert make_backend(**settings).get_task_meta(task_id)["result"] == {"secret": 1}
        if isinstance(writer.store, KeyValueStore):
            with pytest.raises(DecodeError):
                make_backend().get_task_meta(task_id)
            with pytest.raises(SecurityError):
                make_backend(**{**settings, "resultstore_signing_key": "other"}).get_task_meta(task_id)

    def test_signed_value_is_bound_to_its_task(self, make_backend: MakeBackend) -> None:
        backend = make_backend(resultstore_transforms=["hmac-sha256"], resultstore_signing_key="k")
        if not isinstance(backend.store, KeyValueStore):
            pytest.skip("record stores keep decoded rows (the plugin binds its columns)")
        source, target = _uid(), _uid()
        backend.mark_as_failure(source, KitError("only for source"))
        payload = backend.store.get(backend.keys.task(source))
        assert payload is not None
        backend.store.set(backend.keys.task(target), payload, None)
        with pytest.raises(SecurityError):
            backend.get_task_meta(target)

    def test_record_values_are_bound_to_their_record(self, make_backend: MakeBackend) -> None:
        """A record store signs every column value for its own record (issue 14 item 3): each
        codec call made while storing or reading task ``t`` carries ``RECORDS.task(t)``, for
        group ``g`` ``RECORDS.group(g)`` (a value bound to "" could be copied to any row)."""
        backend = make_backend(resultstore_transforms=["hmac-sha256"], resultstore_signing_key="k")
        if isinstance(backend.store, KeyValueStore):
            pytest.skip("key/value stores are bound by core (test_signed_value_is_bound_to_its_task)")
        codec = backend.store.codec
        assert codec is not None, "core binds the codec before first use"
        keys: list[str] = []

        def spy(real: Any) -> Any:
            def call(value: Any, key: str = "") -> Any:
                keys.append(key)
                return real(value, key)
            return call

        codec.encode, codec.decode = spy(codec.encode), spy(codec.decode)  # type: ignore[method-assign]

        def bound(action: Any, expected: str) -> None:
            keys.clear()
            action()
            assert keys, "no value went through the backend's codec"
            assert set(keys) == {expected}, f"codec keys {sorted(set(keys))}, expected {expected!r}"

        done, failed, group_id = _uid(), _uid(), _uid("g")
        bound(lambda: backend.mark_as_done(done, {"n": 1}), RECORDS.task(done))
        bound(lambda: backend.mark_as_failure(failed, KitError("x")), RECORDS.task(failed))
        bound(lambda: backend.get_task_meta(failed), RECORDS.task(failed))
        bound(lambda: backend.get_many([done]), RECORDS.task(done))
        as_tuple = [[group_id, None], [[[done, None], None]]]
        bound(lambda: backend.save_group(group_id, as_tuple), RECORDS.group(group_id))
        bound(lambda: backend.get_group_meta(group_id), RECORDS.group(group_id))
        assert type(backend.get_task_meta(failed)["result"]) is KitError

    def test_encrypted_roundtrip_and_refusal(self, make_backend: MakeBackend) -> None:
        pytest.importorskip("cryptography", reason="aes-gcm needs pip install resultstore[encryption]")
        settings = {"resultstore_transforms": ["zlib", "aes-gcm"],
                    "resultstore_encryption_keys": {"k1": b"\x01" * 32}}
        writer = make_backend(**settings)
        task_id = _uid()
        writer.mark_as_failure(task_id, KitError("secret"))
        writer.mark_as_done(done_id := _uid(), {"secret": 1})
        reader = make_backend(**settings)
        assert reader.get_task_meta(done_id)["result"] == {"secret": 1}
        assert type(reader.get_task_meta(task_id)["result"]) is KitError
        if isinstance(writer.store, KeyValueStore):
            with pytest.raises(DecodeError):
                make_backend().get_task_meta(task_id)
            with pytest.raises(DecryptionError):
                make_backend(**{**settings, "resultstore_encryption_keys": {"k1": b"\x02" * 32}}
                             ).get_task_meta(task_id)

    def test_offloaded_result_roundtrip(self, make_backend: MakeBackend) -> None:
        """Big results through the claim check (offload store: memory://), small ones not."""
        settings = {"resultstore_offload_url": f"memory://kit-offload-{_uid()}",
                    "resultstore_offload_threshold": 20_000}
        writer = make_backend(**settings)
        big, small = _uid(), _uid()
        writer.mark_as_done(big, "o" * 50_000)
        writer.mark_as_done(small, 7)
        reader = make_backend(**settings)
        assert reader.get_task_meta(big)["result"] == "o" * 50_000
        assert {t: m["result"] for t, m in reader.get_many([big, small]).items()} == {
            big: "o" * 50_000, small: 7}
        pointer = make_backend().get_task_meta(big, cache=False)["result"]
        assert pointer["resultstore_offload"] == 1 and pointer["size"] > 50_000
        reader.forget(big)
        assert reader.offload is not None and reader.offload.store.get(pointer["key"]) is None

    def test_pickle_needs_accept(self, make_backend: MakeBackend) -> None:
        writer = make_backend(result_serializer="pickle", result_accept_content=["pickle"])
        task_id = _uid()
        writer.mark_as_failure(task_id, KitError("p"))
        assert type(writer.get_task_meta(task_id)["result"]) is KitError
        if isinstance(writer.store, KeyValueStore):
            with pytest.raises(SecurityError):
                make_backend(result_serializer="pickle").get_task_meta(task_id)

    # -- hostile data --------------------------------------------------------------
    #: Random cases of the fuzz test (``RESULTSTORE_FUZZ_EXAMPLES`` overrides it).
    fuzz_examples: int = 20

    def test_fuzz_decoding(self, make_backend: MakeBackend) -> None:
        """Random payloads on every decode entry point: typed errors only, no import, plain data."""
        fuzz = pytest.importorskip("resultstore.testing.fuzz",
                                   reason="the fuzz test needs hypothesis (pip install resultstore[testing])")
        examples = int(os.environ.get("RESULTSTORE_FUZZ_EXAMPLES", self.fuzz_examples))
        stats = fuzz.fuzz_backend([make_backend(**settings) for settings in fuzz.reading_settings()],
                                  examples)
        assert stats.cases >= examples and stats.untyped == 0 and not stats.imported

    # -- chords ------------------------------------------------------------------
    def _needs_counting(self, backend: ResultBackend) -> None:
        if not backend.supports_native_chords:
            pytest.skip("store declares neither chord_add nor incr: hosts poll")

    def test_chord_completes_once_in_order(self, backend: ResultBackend) -> None:
        self._needs_counting(backend)
        group_id = _uid("g")
        backend.set_chord_size(group_id, 3)
        outcomes = [backend.chord_part_return(group_id, f"t{i}", i, states.SUCCESS, i * 10)
                    for i in (2, 0, 1)]
        assert outcomes[:2] == [None, None]
        parts = outcomes[2]
        assert parts is not None and [p.result for p in parts] == [0, 10, 20]
        backend.chord_done(group_id)

    def test_chord_failed_part_is_reported(self, backend: ResultBackend) -> None:
        self._needs_counting(backend)
        from ..chords import values_or_raise
        from ..errors import ChordError

        group_id = _uid("g")
        backend.set_chord_size(group_id, 2)
        backend.chord_part_return(group_id, "ok", 0, states.SUCCESS, 1)
        parts = backend.chord_part_return(group_id, "bad", 1, states.FAILURE, KitError("x"))
        assert parts is not None and type(parts[1].result) is KitError
        with pytest.raises(ChordError, match="Dependency bad raised"):
            values_or_raise(parts)

    @requires(Capability.CHORD)
    def test_chord_duplicate_part_counted_once(self, backend: ResultBackend) -> None:
        group_id = _uid("g")
        backend.set_chord_size(group_id, 2)
        assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1) is None
        assert backend.chord_part_return(group_id, "a", 0, states.SUCCESS, 1) is None
        assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is not None
        assert backend.chord_part_return(group_id, "b", 1, states.SUCCESS, 2) is None

    def test_chord_parallel_parts_complete_exactly_once(self, make_backend: MakeBackend) -> None:
        backends = [make_backend() for _ in range(4)]
        self._needs_counting(backends[0])
        chords_complete_once(backends, groups=20, size=10)

    @requires(Capability.CHORD)
    def test_chord_redelivered_parts_under_contention_complete_once(
            self, make_backend: MakeBackend) -> None:
        chords_complete_once([make_backend() for _ in range(4)], groups=4, size=8, copies=2)

    @requires(Capability.GUARDED_SET)
    def test_guarded_write_races_keep_the_success(self, make_backend: MakeBackend) -> None:
        guarded_writes_keep_success([make_backend() for _ in range(4)], self.guarded_race_rounds)

    # -- push, listing, asyncio ------------------------------------------------------
    @requires(Capability.SUBSCRIBE)
    def test_subscriber_receives_new_values(self, backend: ResultBackend) -> None:
        """Key/value stores push ``(key, payload)``; record stores ``(task_id, meta)``."""
        store = backend.store
        task_id = _uid()
        key = backend.keys.task(task_id) if isinstance(store, KeyValueStore) else task_id
        got = threading.Event()
        received: list[tuple[str, Any]] = []

        def on_message(k: str, v: Any) -> None:
            received.append((k, v))
            got.set()

        try:
            subscriber = store.subscriber(on_message, lambda: None)
        except NotSupported as exc:  # declared, but this deployment cannot push (probed)
            pytest.skip(f"the store declares SUBSCRIBE, but this deployment cannot push: {exc}")
        try:
            subscriber.subscribe(key)
            time.sleep(0.2)
            backend.mark_as_done(task_id, 99)
            assert got.wait(5)
            assert received[0][0] == key
            value = received[0][1]
            meta = backend.codec.decode(value) if isinstance(store, KeyValueStore) else value
            assert meta["result"] == 99
        finally:
            subscriber.close()

    @requires(Capability.SCAN)
    def test_scan_lists_task_ids(self, backend: ResultBackend) -> None:
        ids = {_uid("scan") for _ in range(5)}
        for task_id in ids:
            backend.mark_as_done(task_id, 0)
        assert ids <= set(backend.task_ids())

    def test_asyncio_reads(self, backend: ResultBackend) -> None:
        ids = [_uid() for _ in range(3)]
        for task_id in ids:
            backend.mark_as_done(task_id, task_id)

        async def read() -> tuple[Any, Any]:
            one = await backend.aget_task_meta(ids[0])
            many = await backend.aget_many(ids)
            return one, many

        one, many = asyncio.run(read())
        assert one["result"] == ids[0]
        assert [many[t]["result"] for t in ids] == ids
