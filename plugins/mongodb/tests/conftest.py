"""Where the MongoDB tests run.

* ``RESULTSTORE_TEST_MONGODB_URL`` set (e.g. ``mongodb://127.0.0.1:27017/?directConnection=true``
  against ``tests/compose.yaml``): every test runs against that real server, each session in
  a database of its own (dropped at the end).
* Otherwise no MongoDB server can be installed on these machines, so the tests run against
  the most faithful stand-in available: **mongomock**, patched in for ``pymongo.MongoClient``
  (``mongomock.patch``) so that our store *and Celery's own MongoBackend* open the same
  in-memory server by URL, with the two additions of :mod:`mongodb_standin` (per-document
  atomicity as MongoDB guarantees it, and an awaitable wrapper for
  ``pymongo.AsyncMongoClient``), under tests/ only.  Tests that need what mongomock lacks
  (change streams, processes sharing a server) are skipped there, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from mongodb_standin import MongoTarget

import resultstore
from resultstore.testing import opened_backends

REAL_URL = os.environ.get("RESULTSTORE_TEST_MONGODB_URL")
#: The address the stand-in answers on (no socket is ever opened).
STAND_IN_HOST = "mongomock.invalid:27017"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def mongo() -> Iterator[MongoTarget]:
    database = f"rs_test_{uuid.uuid4().hex[:10]}"
    if REAL_URL:
        target = MongoTarget(_with_database(REAL_URL, database), real=True)
        yield target
        import pymongo

        with pymongo.MongoClient(REAL_URL) as client:
            client.drop_database(database)
        return
    import mongomock
    from mongodb_standin import atomic_documents, patch_async

    # other addresses get the real pymongo client: unreachable-server tests see the real driver
    with mongomock.patch(servers=(STAND_IN_HOST,), on_new="pymongo"), patch_async(), \
            atomic_documents():
        yield MongoTarget(f"mongodb://{STAND_IN_HOST}/{database}", real=False)


@pytest.fixture
def needs_real_server(mongo: MongoTarget) -> None:
    if not mongo.real:
        pytest.skip("needs a real MongoDB server (set RESULTSTORE_TEST_MONGODB_URL); "
                    "mongomock cannot show this")


@pytest.fixture
def mongodb_url(mongo: MongoTarget) -> str:
    return mongo.url


@pytest.fixture
def open_mongodb() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_mongodb(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend
