"""``FaultProxy`` itself, in front of a loopback echo server: each fault does what it says."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from resultstore.testing import FaultProxy


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    """A TCP echo server on a free loopback port (one thread per connection)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:  # the proxy reset this connection (the faults under test)
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join()
    listener.close()


def _client(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=2)
    sock.settimeout(2)
    return sock


def _roundtrip(sock: socket.socket, data: bytes = b"ping") -> bytes:
    sock.sendall(data)
    return sock.recv(4096)


def test_forwards_both_ways(echo: tuple[str, int]) -> None:
    with FaultProxy(echo) as proxy, _client(proxy) as sock:
        assert _roundtrip(sock, b"hello") == b"hello"
        assert proxy.connections == 1


def test_drop_resets_open_and_refuses_new_then_restore(echo: tuple[str, int]) -> None:
    with FaultProxy(echo) as proxy:
        sock = _client(proxy)
        assert _roundtrip(sock) == b"ping"
        proxy.drop()
        with pytest.raises(OSError):  # reset by peer (or EOF turned into a failed send)
            for _ in range(3):
                if not _roundtrip(sock):
                    raise ConnectionResetError("closed")
        sock.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=2)
        proxy.restore()
        with _client(proxy) as again:
            assert _roundtrip(again) == b"ping"


def test_stall_accepts_but_answers_nothing(echo: tuple[str, int]) -> None:
    with FaultProxy(echo) as proxy:
        proxy.stall()
        with _client(proxy) as sock:  # the connection is accepted ...
            sock.settimeout(0.3)
            sock.sendall(b"ping")
            with pytest.raises(TimeoutError):  # ... and nothing comes back
                sock.recv(4096)
            proxy.restore()
            sock.settimeout(2)
            assert sock.recv(4096) == b"ping"  # held, then forwarded


def test_reset_once_then_new_connections_work(echo: tuple[str, int]) -> None:
    with FaultProxy(echo) as proxy:
        sock = _client(proxy)
        assert _roundtrip(sock) == b"ping"
        proxy.reset()
        with pytest.raises(ConnectionResetError):
            for _ in range(3):
                _roundtrip(sock)
        sock.close()
        with _client(proxy) as again:
            assert _roundtrip(again) == b"ping"


def test_slow_delays_each_chunk(echo: tuple[str, int]) -> None:
    with FaultProxy(echo) as proxy, _client(proxy) as sock:
        _roundtrip(sock)
        proxy.slow(0.2)
        start = time.monotonic()
        assert _roundtrip(sock) == b"ping"
        assert time.monotonic() - start >= 0.4  # delayed on the way there and back
