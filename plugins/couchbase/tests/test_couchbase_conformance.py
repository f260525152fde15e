"""The conformance kit (stand-in at the SDK boundary, or a real server if set)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestCouchbase(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, couchbase_url: str) -> MakeBackend:
        return functools.partial(open_backend, couchbase_url)
