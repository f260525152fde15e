"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on Cosmos DB."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestCosmosDBSQLClient(ClientSuite):
    #: Waiters poll (no push channel) and each result is an HTTP write: 200 keep the run short.
    many_waiters = 200

    @pytest.fixture
    def make_backend(self, open_cosmos: MakeBackend, cosmos_url: str) -> MakeBackend:
        return functools.partial(open_cosmos, cosmos_url, cosmosdbsql_collection_name="client")
