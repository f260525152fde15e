"""Where the tests run: a real Cassandra/ScyllaDB when RESULTSTORE_TEST_CASSANDRA_URL is set,
else the in-process stand-in at the driver's Cluster/Session boundary (tests/cassandra_standin).

``RESULTSTORE_TEST_CASSANDRA_URL`` is ``cassandra://[user:password@]host[,host2][:port]``
(e.g. ``cassandra://127.0.0.1:9042`` with ``docker compose -f plugins/cassandra/compose.yaml up``);
the tests create the keyspace ``resultstore_test`` (SimpleStrategy, RF 1) and one table per run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import cassandra.cluster
import pytest
from cassandra_helpers import KEYSPACE, REAL_URL, STANDIN_ONLY, ensure_keyspace
from cassandra_standin.driver import StandinCluster, StandinServer

import resultstore
from resultstore.testing import opened_backends


@pytest.fixture(scope="session")
def standin() -> Iterator[StandinServer | None]:
    """The stand-in server (``None`` on a real server); ``cassandra.cluster.Cluster`` is
    patched for the whole session, so Celery's backend uses it too."""
    if REAL_URL:
        ensure_keyspace(REAL_URL)
        yield None
        return
    server = StandinServer()
    StandinCluster.server = server
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cassandra.cluster, "Cluster", StandinCluster)
        yield server
    server.close()


@pytest.fixture(scope="session")
def cassandra_url(standin: StandinServer | None) -> str:
    """A URL naming hosts, keyspace and a table of this run."""
    table = f"results_{uuid.uuid4().hex[:8]}"
    base = REAL_URL.rstrip("/") if REAL_URL else "cassandra://127.0.0.1:9042"
    return f"{base}/{KEYSPACE}/{table}"


@pytest.fixture
def fresh_url(cassandra_url: str) -> str:
    """The URL with a table of its own (for tests that shape or inspect tables)."""
    return f"{cassandra_url.rsplit('/', 1)[0]}/t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def only_standin(standin: StandinServer | None) -> StandinServer:
    if standin is None:
        pytest.skip(STANDIN_ONLY)
    return standin


@pytest.fixture
def open_backend() -> Iterator[Callable[..., resultstore.ResultBackend]]:
    """``open_backend(url, **settings)``; every backend opened is closed at teardown."""
    with opened_backends() as open_backend:
        yield open_backend

