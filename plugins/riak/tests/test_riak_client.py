"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on Riak."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

import resultstore
from resultstore.testing import opened_backends
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestRiakClient(ClientSuite):
    #: Waiters poll (Riak has no push channel) and each result is an HTTP write.
    many_waiters = 200

    @pytest.fixture
    def make_backend(self, riak_url: str) -> Iterator[MakeBackend]:
        with opened_backends() as open_backend:
            yield functools.partial(open_backend, riak_url)
