"""One connection per thread for the hot single-round-trip commands.

redis-py's client checks a pooled connection out and in for every command
(a lock, a ``poll()`` of the socket, retry and metrics wrappers): about a
third of a loopback round trip.  Storing and reading results are one command
(or one pipeline) each, so the store sends them on a connection owned by the
calling thread instead: same wire bytes, same replies, less overhead.

* A connection is created lazily per thread (and again in a forked child) from
  the pool's connection class and arguments (TLS, sentinel, auth, timeouts).
* A connection error disconnects it; the command is retried ``retries`` times
  on a fresh connection (redis-py's behaviour for stale pooled connections).
* Any other interruption (e.g. ``KeyboardInterrupt`` mid-reply) disconnects it,
  so the next command never reads a stale reply.

Not used with ``redis_max_connections`` (those connections would not count
against the limit) nor on Redis Cluster (redis-py routes by slot there).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import redis.exceptions

__all__ = ["DirectConnections"]


class _Local(threading.local):
    conn: Any = None
    pid: int = 0


class DirectConnections:
    """Per-thread connections made by ``make``; see the module docstring."""

    def __init__(self, make: Callable[[], Any], retries: int,
                 retry_on: tuple[type[BaseException], ...]) -> None:
        self._make = make
        self._retries = retries
        self._retry_on = retry_on
        self._local = _Local()
        self._all: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        local = self._local
        pid = os.getpid()
        if local.conn is None or local.pid != pid:
            conn = self._make()
            with self._lock:
                self._all.add(conn)
            local.conn, local.pid = conn, pid
        return local.conn

    def execute(self, *args: Any) -> Any:
        """Send one command and return its reply (error replies raise)."""
        return self._run(lambda conn: _one(conn, args))

    def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send several commands in one write and return every reply (one round trip).

        Every reply is read before an error reply is raised, so the connection stays
        in step with the server.
        """
        return self._run(lambda conn: _many(conn, commands))  # type: ignore[no-any-return]

    def _run(self, send: Callable[[Any], Any]) -> Any:
        attempt = 0
        while True:
            conn = self._connection()
            try:
                conn.connect()  # no-op when connected; sentinel connections find the master
                return send(conn)
            except self._retry_on:
                conn.disconnect()
                if attempt >= self._retries:
                    raise
                attempt += 1
            except redis.exceptions.ResponseError:
                raise  # a complete error reply: the connection is still in step
            except BaseException:
                conn.disconnect()
                raise

    def close(self) -> None:
        """Disconnect every thread's connection (they reconnect if used again)."""
        with self._lock:
            conns = list(self._all)
        for conn in conns:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001 - closing a broken socket may fail; nothing to keep
                pass


def _one(conn: Any, args: Sequence[Any]) -> Any:
    conn.send_command(*args)
    return conn.read_response()


def _many(conn: Any, commands: Sequence[Sequence[Any]]) -> list[Any]:
    conn.send_packed_command(conn.pack_commands(commands))
    replies: list[Any] = []
    error: redis.exceptions.ResponseError | None = None
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except redis.exceptions.ResponseError as exc:
            error = error or exc
            replies.append(exc)
    if error is not None:
        raise error
    return replies
