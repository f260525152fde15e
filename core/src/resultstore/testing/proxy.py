"""``FaultProxy``: a TCP proxy between a client and its real server that can fail on demand.

It listens on a free loopback port and forwards every connection to ``upstream``;
tests point the client at ``proxy.port`` and then break the path::

    with FaultProxy(("127.0.0.1", server_port)) as proxy:
        backend = connect(f"redis://127.0.0.1:{proxy.port}/0")
        proxy.drop()      # the server is gone: existing connections reset, new ones refused
        proxy.restore()   # back: forwards again
        proxy.stall()     # accepts and keeps connections, forwards nothing (a hung server)
        proxy.reset()     # resets the open connections once; new ones work
        proxy.slow(0.05)  # every forwarded chunk waits 50 ms

Plain threads: one accepting, two pumping per connection.  ``drop`` closes the
listening socket (connects are refused, as with a stopped server) and ``restore``
binds the same port again.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from types import TracebackType

__all__ = ["FaultProxy"]

_TICK = 0.05  # seconds between checks of the proxy's mode by its threads


def _abort(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed peer's kernel would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()

    def abort(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            _abort(self.client)
            _abort(self.upstream)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.client.close()
            self.upstream.close()


class FaultProxy:
    """Forward ``127.0.0.1:port`` to ``upstream`` with injectable faults (tests only)."""

    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = upstream
        self.host = host
        self.port = port
        self.delay = 0.0
        self.stalled = threading.Event()
        self.connections = 0  # connections accepted so far (tests assert reconnects with it)
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._acceptor: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._stopping.clear()
        self._listen()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close_listener()
        self.reset()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    # -- faults ----------------------------------------------------------------
    def drop(self) -> None:
        """The server goes away: open connections are reset, new ones refused."""
        self._close_listener()
        self.reset()

    def stall(self) -> None:
        """The server hangs: connections are accepted and kept, nothing is forwarded."""
        self.stalled.set()

    def reset(self) -> None:
        """Reset every open connection (RST to both sides); new connections work."""
        with self._lock:
            links, self._links = self._links, set()
        for link in links:
            link.abort()

    def slow(self, delay: float) -> None:
        """Delay every forwarded chunk by ``delay`` seconds (0 to stop)."""
        self.delay = delay

    def restore(self) -> None:
        """End every fault: forward again at full speed, accept again after a drop."""
        self.delay = 0.0
        self.stalled.clear()
        if self._listener is None and not self._stopping.is_set():
            self._listen()

    # -- internals -------------------------------------------------------------
    def _listen(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((self.host, self.port))
                break
            except OSError:
                listener.close()
                if not self.port or time.monotonic() > deadline:
                    raise
                time.sleep(_TICK)  # the old socket of this port is still being torn down
        listener.listen(128)
        listener.settimeout(_TICK)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True,
                                          name=f"fault-proxy-{self.port}")
        self._acceptor.start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None and self._acceptor is not threading.current_thread():
            self._acceptor.join()
            self._acceptor = None

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _abort(client)
            return
        link = _Link(client, upstream)
        with self._lock:
            self._links.add(link)
        back = threading.Thread(target=self._pump, args=(link, upstream, client), daemon=True)
        back.start()
        self._pump(link, client, upstream)
        back.join()
        with self._lock:
            self._links.discard(link)
        link.close()

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket) -> None:
        while not link.closed.is_set():
            if self.stalled.is_set():
                time.sleep(_TICK)
                continue
            try:
                readable, _, _ = select.select([source], [], [], _TICK)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                while self.stalled.is_set() and not link.closed.is_set():
                    time.sleep(_TICK)
                if self.delay:
                    time.sleep(self.delay)
                target.sendall(data)
            except (OSError, ValueError):  # the other side went away, or we aborted the link
                link.abort()
                return
