"""HTTPS (``?ssl=true``, ours: Celery speaks plain http) through a TLS front to the test server.

The front is a loopback TLS listener with a self-signed certificate for ``localhost`` that
relays bytes to the session's server, so the real server answers over a real TLS session.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

import resultstore
from resultstore.errors import BackendStoreError, ImproperlyConfigured


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture(scope="module")
def tls_front(couchdb_server: str, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[str, str]]:
    """``(couchdb://...@localhost:<tls port>, CA file)`` relaying to the session's server."""
    workdir = tmp_path_factory.mktemp("couchdb-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", "key.pem", "-out", "cert.pem"],
                   cwd=workdir, check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(workdir / "cert.pem", workdir / "key.pem")
    upstream = urlsplit(couchdb_server.replace("couchdb://", "http://", 1))
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                client = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()  # a client that refused our certificate
                continue
            server = socket.create_connection((upstream.hostname, upstream.port))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    auth = upstream.netloc.rpartition("@")[0]
    try:
        yield (f"couchdb://{auth + '@' if auth else ''}localhost:{listener.getsockname()[1]}",
               str(Path(workdir, "cert.pem")))
    finally:
        stop.set()
        listener.close()


def test_https_with_the_servers_ca(tls_front: tuple[str, str]) -> None:
    base, ca = tls_front
    backend = resultstore.connect(f"{base}/rs-tls?ssl=true&ca_certs={quote(ca, safe='/')}")
    try:
        assert backend.store.config.base_url.startswith("https://")  # type: ignore[union-attr]
        backend.mark_as_done("over-tls", {"secure": True})
        assert backend.get_task_meta("over-tls", cache=False)["result"] == {"secure": True}
        assert backend.get_many(["over-tls"])["over-tls"]["status"] == "SUCCESS"
    finally:
        backend.close()


def test_an_untrusted_certificate_is_not_retried_and_names_the_setting(
        tls_front: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = tls_front
    backend = resultstore.connect(f"{base}/rs-tls?ssl=true", result_backend_always_retry=True,
                                  result_backend_max_retries=5)
    retried: list[int] = []
    monkeypatch.setattr(backend, "_on_retry", lambda *args: retried.append(1))
    try:
        with pytest.raises(BackendStoreError) as refused:
            backend.mark_as_done("t", 1)
        assert "TLS certificate verification failed" in str(refused.value)
        assert "couchdb_ca_certs" in str(refused.value)
        assert not retried
    finally:
        backend.close()


def test_an_unreadable_ca_bundle_is_a_configuration_error(tls_front: tuple[str, str],
                                                         tmp_path: Path) -> None:
    base, _ = tls_front
    bad = tmp_path / "not-a-bundle.pem"
    bad.write_text("nothing here")
    backend = resultstore.connect(f"{base}/rs-tls?ssl=true&ca_certs={bad}")
    try:
        with pytest.raises(ImproperlyConfigured, match="not a readable PEM CA bundle"):
            backend.mark_as_done("t", 1)
    finally:
        backend.close()
