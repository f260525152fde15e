"""The outage kit on ArangoDB (the HTTP stand-in, or a real server), through a proxy."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends

#: ``arangodb_timeout`` (60 s by default) bounds one request to a hung server.
TIMEOUTS = {"arangodb_timeout": 1.0}


class TestArangoDBOutage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, arango_url: str) -> Iterator[Proxied]:
        parts = urlsplit(arango_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 8529

        def url(proxy_port: int) -> str:
            netloc = parts.netloc.replace(f"{host}:{port}", f"127.0.0.1:{proxy_port}")
            return parts._replace(netloc=netloc).geturl()

        with opened_backends(**TIMEOUTS) as open_backend:
            yield Proxied((host, port), lambda proxy_port, **settings: open_backend(
                url(proxy_port), **settings))
