"""The client kit (AsyncResult, ResultSet, GroupResult, waiting) on a real Redis server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from redis_servers import Deployment, opened

import resultstore
from resultstore.testing.client_suite import ClientSuite


class TestRedisClient(ClientSuite):
    #: 10,000 concurrent asyncio waiters on one real pub/sub connection (about 14 s).
    many_waiters = 10_000

    @pytest.fixture
    def make_backend(self, redis_plain: Deployment) -> Iterator[Callable[..., resultstore.ResultBackend]]:
        yield from opened(redis_plain)
