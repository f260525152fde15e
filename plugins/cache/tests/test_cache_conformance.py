"""The conformance kit against a real memcached (and the in-process ``memory://`` client)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestMemcached(ConformanceSuite):
    #: memcached's default item size limit (-I 1m); the kit stores up to this minus 4 KiB.
    max_value_size = 1024 * 1024
    guarded_race_rounds = 20

    @pytest.fixture
    def make_backend(self, open_cache: MakeBackend, memcached_url: str) -> MakeBackend:
        return functools.partial(open_cache, f"cache+{memcached_url}")


class TestCacheMemory(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, open_cache: MakeBackend) -> MakeBackend:
        return functools.partial(open_cache, f"cache+memory://{uuid.uuid4().hex}")
