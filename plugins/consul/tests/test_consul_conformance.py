"""The conformance kit and the blob-store kit on Consul, with Celery 5.7's own
``ConsulBackend`` (python-consul2) on the same agent for the cross-reads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from celery.backends.consul import ConsulBackend as CeleryConsulBackend

from resultstore import states
from resultstore.backend import ResultBackend
from resultstore.testing.blob import BlobStoreSuite, BlobTarget
from resultstore_consul.host import ConsulBackend

TOKEN = "s3cret-acl-token"


class TestConsul(BlobStoreSuite):
    conditional = True  # /v1/txn check-index and cas are Consul's API
    stress_chords = 100  # x 10 parts from 8 processes (5% redelivered), each body once

    @pytest.fixture
    def blob_target(self, consul_url: str) -> BlobTarget:
        # An ACL token (the stand-in accepts and ignores it) that must never be shown.
        return BlobTarget(url=consul_url, settings={"consul_token": TOKEN},
                          host_class=ConsulBackend,
                          celery_backend=lambda app: CeleryConsulBackend(app=app, url=consul_url),
                          secrets=(TOKEN,))

    def test_cleanup_removes_expired_ours_and_celerys_but_nothing_else(
            self, blob_target: BlobTarget, make_backend: Callable[..., ResultBackend]) -> None:
        """Replaces the kit's check: Consul keeps no write time, so a key Celery wrote (no
        expiry in ``Flags``) is left to its session's TTL, which deletes it natively;
        ``cleanup`` deletes ours past their recorded expiry and nothing else."""
        backend = make_backend(result_expires=1)
        keeper = make_backend(result_expires=3600)
        store = self._store(backend)
        theirs = blob_target.celery_backend(blob_target.celery_app())
        ours_id, celerys_id, kept_id = (str(uuid.uuid4()) for _ in range(3))
        backend.mark_as_done(ours_id, 1)
        theirs.mark_as_done(celerys_id, 2)
        keeper.mark_as_done(kept_id, 3)
        foreign = store.name("notes/readme.txt")
        store.write_blob(foreign, b"not a result")
        time.sleep(1.2)
        assert backend.get_task_meta(ours_id)["status"] == states.PENDING  # before any cleanup
        assert backend.cleanup() == 1
        names = {info.name for info in store.list_blobs(store.prefix)}
        assert store.name(backend.keys.task(ours_id)) not in names
        assert {foreign, store.name(backend.keys.task(kept_id)),
                store.name(backend.keys.task(celerys_id))} <= names
        assert keeper.get_task_meta(kept_id)["result"] == 3
