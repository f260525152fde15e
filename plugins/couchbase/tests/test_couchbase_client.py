"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on Couchbase."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestCouchbaseClient(ClientSuite):
    #: Waiters poll (no push channel): 200 keep the run short.
    many_waiters = 200

    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, couchbase_url: str) -> MakeBackend:
        return functools.partial(open_backend, couchbase_url)
