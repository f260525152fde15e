"""The conformance kit against ArangoDB (the stand-in here, a real server when
``RESULTSTORE_TEST_ARANGODB_URL`` is set)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestArangoDB(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_arango: MakeBackend, arango_url: str) -> MakeBackend:
        return functools.partial(open_arango, arango_url + "/results")
