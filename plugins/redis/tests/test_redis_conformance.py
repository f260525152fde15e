"""The conformance kit on every Redis deployment shape, and on Valkey (real servers)."""

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


class TestValkeyPlain(ConformanceSuite):
    """The whole kit on valkey-server 9 (Redis's fork; managed offerings default to it)."""

    @pytest.fixture
    def make_backend(self, valkey_plain: Deployment) -> Iterator[MakeBackend]:
        yield from opened(valkey_plain)


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
