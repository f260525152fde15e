"""The conformance kit against a real PostgreSQL 15 and against SQLite."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestPostgreSQL(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, pg_url: str) -> MakeBackend:
        return functools.partial(open_backend, f"db+{pg_url}")


class TestSQLite(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, sqlite_url: str) -> MakeBackend:
        return functools.partial(open_backend, f"db+{sqlite_url}")
