"""The conformance kit: on a real server with RESULTSTORE_TEST_MONGODB_URL, else on mongomock."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestMongoDB(ConformanceSuite):
    #: MongoDB's 16 MiB document limit, less room for the other fields.
    max_value_size = 15 * 1024 * 1024

    @pytest.fixture
    def make_backend(self, open_mongodb: MakeBackend, mongodb_url: str) -> MakeBackend:
        return functools.partial(open_mongodb, mongodb_url)
