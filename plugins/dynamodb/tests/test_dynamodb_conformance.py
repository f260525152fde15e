"""The conformance kit against moto's DynamoDB server."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite
from resultstore_dynamodb.store import MAX_ITEM_SIZE

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestDynamoDB(ConformanceSuite):
    #: DynamoDB's 400 KB item limit, less the key and attribute names.
    max_value_size = MAX_ITEM_SIZE - 1024

    @pytest.fixture
    def make_backend(self, open_dynamodb: MakeBackend, dynamodb_url: str) -> MakeBackend:
        return functools.partial(open_dynamodb, dynamodb_url)
