"""The conformance kit and the blob-store kit on Riak: a strongly consistent bucket type
(native chords, atomic keep-SUCCESS) and the default type (hosts poll, as Celery's former
backend did).

Celery 5.7 has no Riak backend to cross-read with (``riak://`` raises ModuleNotFoundError,
and the ``riak`` client it needed does not run on Python 3.7+): the kit's cross-read tests
are replaced here by reads and writes of the objects Celery 4's ``RiakBackend`` stored
(``test_riak_store.py`` checks the layout byte for byte).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from resultstore import states
from resultstore.backend import ResultBackend
from resultstore.testing.blob import BlobStoreSuite, BlobTarget
from resultstore_riak import RiakStore
from resultstore_riak.host import RiakBackend

NO_CELERY = ("Celery 5.7 ships no Riak backend (riak:// raises ModuleNotFoundError): "
             "test_riak_store.py reads and writes the objects Celery 4's RiakBackend stored")


class Celery4Objects:
    """What Celery 4's ``RiakBackend`` did on the wire (``bucket.new(key, data=text).store()``
    through the ``riak`` client: the serialized meta as a JSON string, ``application/json``,
    a blind ``PUT``), replayed over HTTP for the cleanup check."""

    def __init__(self, store: RiakStore) -> None:
        self.store = store

    def mark_as_done(self, backend: ResultBackend, task_id: str, result: Any) -> None:
        meta = {"status": states.SUCCESS, "result": result, "traceback": None, "children": [],
                "date_done": None, "task_id": task_id}
        self.store.client.put(self.store.path(backend.keys.task(task_id)),
                              content=json.dumps(json.dumps(meta)).encode(),
                              headers={"Content-Type": "application/json"}).raise_for_status()


class _RiakKit(BlobStoreSuite):
    stress_chords = 100  # x 10 parts from 8 processes (5% redelivered), each body once

    def test_celery_writes_we_read(self, blob_target: BlobTarget, backend: ResultBackend) -> None:
        pytest.skip(NO_CELERY)

    def test_we_write_celery_reads(self, blob_target: BlobTarget, backend: ResultBackend) -> None:
        pytest.skip(NO_CELERY)

    def test_our_celery_host_reads_celerys_writes(self, blob_target: BlobTarget) -> None:
        pytest.skip(NO_CELERY)

    def test_throughput_next_to_celery(self, blob_target: BlobTarget) -> None:
        pytest.skip(NO_CELERY + "; bench/ has no Celery figure to compare either")

    def test_cleanup_removes_expired_ours_and_celerys_but_nothing_else(
            self, blob_target: BlobTarget, make_backend: Callable[..., ResultBackend]) -> None:
        """The kit's check with Celery 4's objects: they expire ``result_expires`` after their
        ``Last-Modified`` (Riak's, second resolution)."""
        backend = make_backend(result_expires=1)
        keeper = make_backend(result_expires=3600)
        store = self._store(backend)
        assert isinstance(store, RiakStore)
        ours_id, celerys_id, kept_id = (str(uuid.uuid4()) for _ in range(3))
        backend.mark_as_done(ours_id, 1)
        Celery4Objects(store).mark_as_done(backend, celerys_id, 2)
        keeper.mark_as_done(kept_id, 3)
        foreign = store.name("notes/readme.txt")
        store.write_blob(foreign, b"not a result")
        time.sleep(2.2)
        assert backend.get_task_meta(ours_id)["status"] == states.PENDING  # before any cleanup
        assert backend.cleanup() == 2
        names = set(store.list_names(store.prefix))
        assert store.name(backend.keys.task(ours_id)) not in names
        assert store.name(backend.keys.task(celerys_id)) not in names
        assert {foreign, store.name(backend.keys.task(kept_id))} <= names
        assert keeper.get_task_meta(kept_id)["result"] == 3


class TestRiakStronglyConsistent(_RiakKit):
    conditional = True

    @pytest.fixture
    def blob_target(self, riak_url: str) -> BlobTarget:
        return BlobTarget(url=riak_url, settings={}, host_class=RiakBackend,
                          celery_backend=lambda app: None)


class TestRiakDefaultType(_RiakKit):
    """Eventually consistent: Riak does not make conditional writes atomic there."""

    conditional = False

    @pytest.fixture
    def blob_target(self, riak_bucket: str) -> BlobTarget:
        return BlobTarget(url=riak_bucket, settings={}, host_class=RiakBackend,
                          celery_backend=lambda app: None)
