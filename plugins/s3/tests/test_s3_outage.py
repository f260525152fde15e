"""The outage kit on S3 (moto server), through a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends

#: botocore waits 60 s to connect and 60 s per read, 5 attempts (legacy mode) by default.
CLIENT = {"connect_timeout": 1, "read_timeout": 1, "retries": {"mode": "standard", "total_max_attempts": 1}}


class TestS3Outage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, s3_settings: dict[str, Any]) -> Iterator[Proxied]:
        upstream = urlsplit(s3_settings["s3_endpoint_url"])
        with opened_backends("s3://", **s3_settings, s3_client_config=CLIENT) as open_backend:
            yield Proxied((upstream.hostname or "", upstream.port or 80),
                          lambda port, **settings: open_backend(
                              s3_endpoint_url=f"http://127.0.0.1:{port}", **settings))
