"""The conformance kit, in both ways of keeping a SUCCESS (stand-in, or a real server if set)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestCassandra(ConformanceSuite):
    """Default: read-then-write as Celery, and reads prefer a stored SUCCESS."""

    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, cassandra_url: str) -> MakeBackend:
        return functools.partial(open_backend, cassandra_url)


class TestCassandraLWT(ConformanceSuite):
    """``cassandra_keep_success = "lwt"``: writes are lightweight transactions (GUARDED_SET)."""

    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, cassandra_url: str) -> MakeBackend:
        return functools.partial(open_backend, cassandra_url, cassandra_keep_success="lwt")
