"""Where the tests run: a real Couchbase Server when RESULTSTORE_TEST_COUCHBASE_URL is set,
else the stand-in at the SDK's network boundary (tests/couchbase_fake: the installed SDK's
options, transcoders, results and exceptions over an in-memory document server).

``RESULTSTORE_TEST_COUCHBASE_URL`` is ``couchbase://user:password@host/bucket`` (e.g.
``couchbase://Administrator:password@127.0.0.1/results`` with
``docker compose -f plugins/couchbase/compose.yaml up``, which creates that bucket).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import acouchbase.cluster
import couchbase.cluster
import pytest
from couchbase_fake.aio import FakeAsyncCluster
from couchbase_fake.sdk import FakeCluster
from couchbase_fake.server import DocumentServer

import resultstore
from resultstore.testing import opened_backends

REAL_URL = os.environ.get("RESULTSTORE_TEST_COUCHBASE_URL")
FAKE_ONLY = ("inspects the stand-in's documents (RESULTSTORE_TEST_COUCHBASE_URL names a real "
             "server)")


@pytest.fixture(scope="module")
def fake() -> Iterator[DocumentServer | None]:
    """The stand-in's document server (``None`` on a real server).

    ``couchbase.cluster.Cluster``, ``acouchbase.cluster.Cluster`` and Celery's import of the
    former are patched for the module (not longer: tests elsewhere in the same run, e.g.
    tests/test_secrets.py, use the real SDK)."""
    if REAL_URL:
        yield None
        return
    server = DocumentServer()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeCluster, "server", server)
        patch.setattr(couchbase.cluster, "Cluster", FakeCluster)
        patch.setattr(FakeAsyncCluster, "server", server)
        patch.setattr(acouchbase.cluster, "Cluster", FakeAsyncCluster)
        try:
            import celery.backends.couchbase as celery_couchbase
        except ImportError:
            pass
        else:
            patch.setattr(celery_couchbase, "Cluster", FakeCluster)
        yield server


@pytest.fixture(scope="module")
def couchbase_url(fake: DocumentServer | None) -> str:
    return REAL_URL or "couchbase://app:s3cret@127.0.0.1/results"


@pytest.fixture
def only_fake(fake: DocumentServer | None) -> DocumentServer:
    if fake is None:
        pytest.skip(FAKE_ONLY)
    return fake


@pytest.fixture
def open_backend() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_backend(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
