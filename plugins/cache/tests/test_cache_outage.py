"""The outage kit on memcached, through a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends
from resultstore.testing.servers import ServerProcess

#: pymemcache's timeouts (Celery's defaults are 5 s each); they bound a call to a hung server.
OPTIONS = {"cache_backend_options": {"connect_timeout": 1.0, "timeout": 1.0}}


class TestMemcachedOutage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, memcached_server: ServerProcess) -> Iterator[Proxied]:
        with opened_backends(**OPTIONS) as open_backend:
            yield Proxied(("127.0.0.1", memcached_server.port),
                          lambda port, **settings: open_backend(
                              f"cache+memcached://127.0.0.1:{port}/", **settings))
