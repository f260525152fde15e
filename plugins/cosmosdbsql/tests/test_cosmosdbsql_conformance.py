"""The conformance kit against Cosmos DB (the stand-in here, a real account or the emulator when
``RESULTSTORE_TEST_COSMOSDBSQL_URL`` is set)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestCosmosDBSQL(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_cosmos: MakeBackend, cosmos_url: str) -> MakeBackend:
        return functools.partial(open_cosmos, cosmos_url, cosmosdbsql_collection_name="results")
