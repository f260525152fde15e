"""The conformance kit on every Redis deployment shape (real servers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from redis_servers import Deployment, opened

import resultstore
from resultstore.testing import ConformanceSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestRedisPlain(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, redis_plain: Deployment) -> Iterator[MakeBackend]:
        yield from opened(redis_plain)


class TestRedisTLS(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, redis_tls: Deployment) -> Iterator[MakeBackend]:
        yield from opened(redis_tls)


class TestRedisSentinel(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, redis_sentinel: Deployment) -> Iterator[MakeBackend]:
        yield from opened(redis_sentinel)


class TestRedisCluster(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, redis_cluster: Deployment) -> Iterator[MakeBackend]:
        yield from opened(redis_cluster)
