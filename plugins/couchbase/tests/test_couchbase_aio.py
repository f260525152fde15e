"""The asyncio twin on ``acouchbase``: same documents as the sync store, gets in flight together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from couchbase_fake.aio import FakeAsyncCluster, FakeAsyncCollection
from couchbase_fake.server import DocumentServer

import resultstore
from resultstore import states
from resultstore.config import Settings
from resultstore_couchbase import CouchbaseStore
from resultstore_couchbase.aio import AsyncCouchbaseStore

MakeBackend = Callable[..., resultstore.ResultBackend]


async def test_async_store_reads_what_the_sync_store_wrote(couchbase_url: str) -> None:
    store = CouchbaseStore.from_url(couchbase_url, Settings())
    astore = store.aio()
    assert isinstance(astore, AsyncCouchbaseStore)
    try:
        keys = [f"rs-aio-{uuid.uuid4()}" for _ in range(3)]
        store.set(keys[0], b"sync", 60)
        await astore.set(keys[1], b"\xffbinary", 60)
        assert await astore.mget([*keys, keys[0]]) == [b"sync", b"\xffbinary", None, b"sync"]
        assert store.get(keys[1]) == b"\xffbinary"
        await astore.delete(keys[0])
        await astore.delete(keys[2])  # absent: not an error
        assert await astore.get(keys[0]) is None
    finally:
        await astore.aclose()
        store.close()


async def test_aget_many_sends_the_gets_together(only_fake: DocumentServer, couchbase_url: str,
                                                 open_backend: MakeBackend,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    backend = open_backend(couchbase_url)
    ids = [str(uuid.uuid4()) for _ in range(20)]
    for task_id in ids:
        backend.mark_as_done(task_id, task_id)
    in_flight, peak = 0, 0
    original = FakeAsyncCollection.get

    async def counted(self: FakeAsyncCollection, key: str, *opts: object) -> object:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)
            return await original(self, key, *opts)
        finally:
            in_flight -= 1

    monkeypatch.setattr(FakeAsyncCollection, "get", counted)
    before = FakeAsyncCluster.connected
    found = await backend.aget_many(ids, cache=False)
    assert {found[i]["status"] for i in ids} == {states.SUCCESS}
    assert peak > 1  # concurrent, not one after another
    assert FakeAsyncCluster.connected == before + 1  # one acouchbase connection for the loop
