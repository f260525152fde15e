"""The client kit (AsyncResult, ResultSet, GroupResult, waiting, asyncio) on Cassandra."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest
from cassandra_standin.driver import StandinServer

import resultstore
from resultstore.testing.client_suite import ClientSuite

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestCassandraClient(ClientSuite):
    #: Waiters poll (no push channel): 200 keep the run short.
    many_waiters = 200

    @pytest.fixture(autouse=True)
    def _no_request_log(self, standin: StandinServer | None) -> Iterator[None]:
        """The stand-in's request log is not the client's memory: off for this kit."""
        if standin is not None:
            standin.record = False
        yield
        if standin is not None:
            standin.record = True

    @pytest.fixture
    def make_backend(self, open_backend: MakeBackend, cassandra_url: str) -> MakeBackend:
        return functools.partial(open_backend, cassandra_url + "_client")
