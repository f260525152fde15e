"""The outage kit on azurite, through a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends

#: Celery's defaults wait 20 s to connect, 120 s per read, and retry 3 times from 3 s.
TIMEOUTS = {"azureblockblob_connection_timeout": 1, "azureblockblob_read_timeout": 1,
            "azureblockblob_retry_max_attempts": 0}


class TestAzureBlockBlobOutage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, azurite_endpoint: str, azure_connection_string: str,
                azure_settings: dict[str, Any]) -> Iterator[Proxied]:
        upstream = urlsplit(azurite_endpoint)

        def url(port: int) -> str:
            proxied = azurite_endpoint.replace(f":{upstream.port}/", f":{port}/")
            return "azureblockblob://" + azure_connection_string.replace(azurite_endpoint, proxied)

        with opened_backends(**azure_settings, **TIMEOUTS) as open_backend:
            yield Proxied((upstream.hostname or "", upstream.port or 80),
                          lambda port, **settings: open_backend(url(port), **settings))
