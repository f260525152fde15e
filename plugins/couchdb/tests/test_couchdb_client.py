"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on pouchdb-server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.client_suite import ClientSuite
from resultstore_couchdb import CouchDBStore


class TestCouchDBClient(ClientSuite):
    #: Each result is an HTTP write to a Node.js server: 500 concurrent waiters keep the run short.
    many_waiters = 500

    @pytest.fixture
    def make_backend(self, couchdb_url: str) -> Iterator[Callable[..., resultstore.ResultBackend]]:
        """Backends on a database created up front: the kit times writes against waits, and
        pouchdb-server takes some 0.5 s to create a database on first use."""
        with opened_backends(couchdb_url) as open_backend:
            store = open_backend().store
            assert isinstance(store, CouchDBStore)
            store.client  # noqa: B018 - ensures the database
            yield open_backend
