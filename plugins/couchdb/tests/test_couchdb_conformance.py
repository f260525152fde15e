"""The conformance kit and the blob-store kit (Celery's CouchBackend cross-reads, chords, expiry)."""

from __future__ import annotations

from typing import Any

import pycouchdb.client
import pytest
from celery.backends.couchdb import CouchBackend

from resultstore.backend import ResultBackend
from resultstore.testing.blob import BlobStoreSuite, BlobTarget
from resultstore_couchdb.host import CouchDBBackend


class TestCouchDBStore(BlobStoreSuite):
    conditional = True  # CouchDB's MVCC: a PUT without (or with a stale) _rev answers 409

    @pytest.fixture
    def blob_target(self, couchdb_url: str, couchdb_password: str) -> BlobTarget:
        return BlobTarget(url=couchdb_url, settings={}, host_class=CouchDBBackend,
                          celery_backend=lambda app: CouchBackend(app=app, url=couchdb_url),
                          secrets=(couchdb_password,) if couchdb_password else ())

    def test_we_write_celery_reads(self, blob_target: BlobTarget, backend: ResultBackend,
                                   real_couchdb: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        """The kit's check; on pouchdb-server Celery's ``forget`` deletes by document.

        pycouchdb's ``delete(id)`` takes the revision from a ``HEAD``'s ``ETag``: CouchDB
        puts it there, pouchdb-server (Express) puts a hash of the body, its ``DELETE``
        with that "revision" answers 404, and Celery ignores 404: ``forget`` does nothing.
        So on pouchdb-server pycouchdb deletes the document it reads (its ``delete(doc)``
        path); against a real CouchDB the kit runs unchanged.
        """
        if not real_couchdb:
            original = pycouchdb.client.Database.delete

            def delete_by_doc(db: Any, doc_or_id: Any) -> None:
                original(db, db.get(doc_or_id) if isinstance(doc_or_id, str) else doc_or_id)

            monkeypatch.setattr(pycouchdb.client.Database, "delete", delete_by_doc)
        super().test_we_write_celery_reads(blob_target, backend)
