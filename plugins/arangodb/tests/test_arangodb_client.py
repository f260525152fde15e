"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on ArangoDB."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestArangoDBClient(ClientSuite):
    #: Waiters poll (no push channel) and each result is an HTTP write: 200 keep the run short.
    many_waiters = 200

    @pytest.fixture
    def make_backend(self, open_arango: MakeBackend, arango_url: str) -> MakeBackend:
        return functools.partial(open_arango, arango_url + "/client")
