"""A loopback TLS listener whose self-signed certificate no CA bundle trusts, for testing that
a store reports a certificate that does not verify at once (see :mod:`resultstore.tls`)::

    with untrusted_tls_listener(tmp_path) as port:
        backend = resultstore.connect(f"https://127.0.0.1:{port}/...")
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["untrusted_tls_listener"]


@contextlib.contextmanager
def untrusted_tls_listener(workdir: Path, host: str = "127.0.0.1") -> Iterator[int]:
    """Yield the port of a server on ``host`` that completes TLS handshakes with a fresh
    self-signed certificate (``openssl`` makes it in ``workdir``) and closes every connection.

    ``host="127.0.0.2"`` (loopback on Linux) serves clients that trust ``127.0.0.1`` blindly
    (azure-cosmos skips certificate checks for ``localhost`` and ``127.0.0.1``: the emulator)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", "k.pem", "-out", "c.pem"],
                   cwd=workdir, check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(workdir / "c.pem", workdir / "k.pem")
    listener = socket.create_server((host, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()
