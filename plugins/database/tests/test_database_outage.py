"""The outage kit on PostgreSQL, through a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends
from resultstore.testing.servers import ServerProcess

#: Celery's engine defaults plus a connect timeout (libpq waits forever by default).
ENGINE = {"database_engine_options": {"pool_pre_ping": True, "pool_recycle": 3600,
                                      "connect_args": {"connect_timeout": 1}}}


class TestPostgresOutage(OutageSuite):
    call_timeout = 3.0
    stall_unbounded = ("libpq has no client-side read timeout; a server that accepts and never "
                       "answers holds a query until TCP gives up (statement_timeout is enforced "
                       "by the server, so it cannot help)")

    @pytest.fixture
    def proxied(self, pg_server: ServerProcess) -> Iterator[Proxied]:
        with opened_backends(**ENGINE) as open_backend:
            yield Proxied(("127.0.0.1", pg_server.port),
                          lambda port, **settings: open_backend(
                              f"db+postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                              **settings))
