"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on Consul."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestConsulClient(ClientSuite):
    #: Each result is a session plus a write: 200 waiters keep the run short.
    many_waiters = 200

    @pytest.fixture
    def make_backend(self, consul_url: str) -> Iterator[MakeBackend]:
        with opened_backends() as open_backend:
            yield functools.partial(open_backend, consul_url)
