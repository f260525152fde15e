"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on MongoDB
(a real server with RESULTSTORE_TEST_MONGODB_URL, else the mongomock stand-in)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestMongoDBClient(ClientSuite):
    #: mongomock scans a collection per query and waits poll there: 50 keep the run short.
    many_waiters = 50

    @pytest.fixture
    def make_backend(self, open_mongodb: MakeBackend, mongodb_url: str) -> MakeBackend:
        return functools.partial(open_mongodb, mongodb_url + "_client")
