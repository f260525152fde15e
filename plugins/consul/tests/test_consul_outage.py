"""The outage kit on Consul (the HTTP stand-in, or RESULTSTORE_TEST_CONSUL_URL), through a proxy."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends


class TestConsulOutage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, consul_url: str) -> Iterator[Proxied]:
        parts = urlsplit(consul_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 8500

        def url(proxy_port: int) -> str:
            # the httpx timeout (``timeout``, 30 s by default) bounds a call to a hung server
            netloc = parts.netloc.replace(f"{host}:{port}", f"127.0.0.1:{proxy_port}")
            query = "&".join(q for q in (parts.query, "timeout=1") if q)
            return parts._replace(netloc=netloc, query=query).geturl()

        with opened_backends() as open_backend:
            yield Proxied((host, port), lambda proxy_port, **settings: open_backend(
                url(proxy_port), **settings))
