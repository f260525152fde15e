"""The outage kit on DynamoDB (moto server), through a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends
from resultstore.testing.servers import ServerProcess

#: botocore waits 60 s to connect and 60 s per read by default.
CLIENT = {"connect_timeout": 1, "read_timeout": 1, "retries": {"mode": "standard", "total_max_attempts": 1}}


class TestDynamoDBOutage(OutageSuite):
    call_timeout = 3.0

    @pytest.fixture
    def proxied(self, moto_server: ServerProcess, dynamodb_url: str) -> Iterator[Proxied]:
        table = dynamodb_url.rsplit("/", 1)[1]
        with opened_backends(dynamodb_client_config=CLIENT) as open_backend:
            yield Proxied(("127.0.0.1", moto_server.port),
                          lambda port, **settings: open_backend(
                              f"dynamodb://test:test@127.0.0.1:{port}/{table}", **settings))
