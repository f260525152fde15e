"""The outage kit on RabbitMQ (rpc reply queues), through a fault-injecting proxy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from rpc_support import RabbitMQ

from resultstore.testing import OutageSuite, Proxied, opened_backends

#: ``broker_connection_timeout`` (Celery: 4 s) bounds connecting, py-amqp's ``read_timeout`` and
#: ``write_timeout`` (transport options, none by default) a basic_get or publish.
TIMEOUTS = {"broker_connection_timeout": 1.0,
            "broker_transport_options": {"read_timeout": 1.0, "write_timeout": 1.0}}


class TestRPCOutage(OutageSuite):
    #: A store reads the reply queue (what this client already holds) and then publishes;
    #: each is retried once on a fresh connection, whose handshake waits too: ~6 s here.
    call_timeout = 8.0
    loses_while_down = (
        "a client's reply queue is auto-delete (Celery's RPCBackend declares it so): when the "
        "client's consumer connection drops, RabbitMQ deletes the queue and results published "
        "before the client reconnects are unroutable (200 stores around a 1 s drop: 2 lost)")

    @pytest.fixture
    def proxied(self, rabbitmq: RabbitMQ) -> Iterator[Proxied]:
        reply_to = f"rs-outage-{uuid.uuid4()}"  # writers and waiters are one client

        def open_through(port: int, **settings: Any) -> Any:
            return open_backend("rpc://", broker_url=f"amqp://guest:guest@127.0.0.1:{port}//",
                                **settings)

        with opened_backends(resultstore_rpc_reply_to=reply_to, **TIMEOUTS) as open_backend:
            yield Proxied(("127.0.0.1", rabbitmq.port), open_through)
