"""One pub/sub connection and one reader thread for every waiter of a store.

* ``subscribe(key)`` returns once Redis confirmed the subscription (one round
  trip), so a value stored after it returns is always delivered; a waiter may
  then read the key once to catch a value stored before.
* Subscriptions are reference-counted; an unsubscribed key leaves no trace,
  so the bookkeeping is bounded by the keys currently waited on.
* After a lost connection the reader reconnects with backoff, subscribes to
  every key again and, once Redis confirmed, calls ``on_reconnect`` so core
  re-reads the keys (values published while disconnected are not lost).
* Idle connections are probed with ``PING`` so a silently dead peer is noticed.
* A reconnect the server refuses to authenticate (the password changed) is said once
  at WARNING; until it succeeds, every retry (at most a second apart) calls
  ``on_reconnect`` so core re-reads the waited keys: the waits poll instead of
  hanging until their timeout.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.exceptions

from resultstore.masking import mask_text
from resultstore.spec import MessageHandler

__all__ = ["RedisSubscriber"]

log = logging.getLogger(__name__)

#: Redis errors after which the pub/sub connection is rebuilt.
_LOST = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, EOFError)
#: The server refused the credentials (also raised as ResponseError NOAUTH/WRONGPASS).
_AUTH = (redis.exceptions.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError)
_AUTH_REPLIES = ("NOAUTH", "WRONGPASS", "invalid password", "invalid username-password")
_CHUNK = 1000
#: What ``_handle`` returns when a resubscription was confirmed.
_RESYNCED = ("", b"")


class RedisSubscriber:
    """The shared push channel of one :class:`~resultstore_redis.store.RedisStore`."""

    #: Seconds ``subscribe`` waits for Redis to confirm (then relies on ``on_reconnect``).
    confirm_timeout = 5.0

    def __init__(self, connect: Callable[[], Any], on_message: MessageHandler,
                 on_reconnect: Callable[[], None], *, idle_ping: float = 30.0,
                 name: str = "resultstore-redis-pubsub", where: str = "") -> None:
        self._connect = connect
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._idle_ping = idle_ping
        self._lock = threading.Lock()
        self._refs: dict[str, int] = {}
        self._unconfirmed: dict[str, threading.Event] = {}
        self._conn: Any = None
        self._connected = threading.Event()
        self._closed = threading.Event()
        self._resync_marker: bytes | None = None
        self._last_read = time.monotonic()
        self._ping_sent = False
        self._marker_seq = 0
        self._ever_connected = False
        #: The masked URL named in log messages.
        self._where = where
        #: Set while the server refuses our credentials (warned once per outage).
        self._auth_refused = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._connected.wait(min(self.confirm_timeout, 2.0))

    # -- public -----------------------------------------------------------------
    @property
    def keys(self) -> frozenset[str]:
        """The keys currently subscribed (for inspection and tests)."""
        with self._lock:
            return frozenset(self._refs)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def subscribe(self, key: str) -> None:
        """Deliver new values of ``key`` until as many ``unsubscribe`` calls."""
        with self._lock:
            count = self._refs.get(key, 0)
            self._refs[key] = count + 1
            event = self._unconfirmed.get(key)
            if count == 0:
                event = self._unconfirmed[key] = threading.Event()
                self._send("SUBSCRIBE", key)
        if event is not None and self._connected.is_set():
            event.wait(self.confirm_timeout)

    def unsubscribe(self, key: str) -> None:
        """Drop one subscription of ``key``."""
        with self._lock:
            count = self._refs.get(key, 0)
            if count > 1:
                self._refs[key] = count - 1
                return
            if count == 0:
                return
            del self._refs[key]
            self._unconfirmed.pop(key, None)
            self._send("UNSUBSCRIBE", key)

    def close(self) -> None:
        """Stop the reader thread and close the connection."""
        self._closed.set()
        with self._lock:
            conn, self._conn = self._conn, None
            self._refs.clear()
            for event in self._unconfirmed.values():
                event.set()
            self._unconfirmed.clear()
        if conn is not None:
            _disconnect(conn)
        if self._thread is not threading.current_thread():
            self._thread.join(5)

    # -- internals (lock held by callers of _send) -----------------------------------
    def _send(self, *args: Any) -> None:
        if self._conn is None:
            return
        try:
            self._conn.send_command(*args, check_health=False)
        except _LOST:
            conn, self._conn = self._conn, None
            self._connected.clear()
            _disconnect(conn)

    def _run(self) -> None:
        delay = 0.0
        while not self._closed.is_set():
            if self._conn is None:
                if delay:
                    self._closed.wait(delay)
                if self._closed.is_set():
                    return
                try:
                    self._open()
                    delay = 0.0
                except _LOST as exc:
                    if _refused(exc):
                        delay = 1.0
                        self._auth_failed(exc)
                        continue
                    delay = min(1.0, max(0.05, delay * 2))
                    log.debug("pub/sub connect failed (%s); retrying in %.2fs", exc, delay)
                    continue
                except Exception as exc:  # keep serving waiters; log the bug
                    delay = 1.0
                    if _refused(exc):  # a ResponseError NOAUTH / WRONGPASS
                        self._auth_failed(exc)
                    else:
                        log.exception("pub/sub connect failed")
                    continue
            try:
                self._read_once()
            except _LOST as exc:
                log.info("pub/sub connection lost (%s); reconnecting", exc)
                with self._lock:
                    conn, self._conn = self._conn, None
                    self._connected.clear()
                if conn is not None:
                    _disconnect(conn)
            except redis.exceptions.ResponseError as exc:
                # An error reply to one of our commands.  Valkey 8.0 answered an UNSUBSCRIBE
                # on a connection left without subscriptions with NOSUB (celery/celery#9092):
                # nothing to undo.  Either way the connection is fine: keep reading.
                level = logging.DEBUG if str(exc).startswith("NOSUB") else logging.WARNING
                log.log(level, "pub/sub error reply ignored: %s", exc)
            except Exception:  # a bad message must not kill delivery
                if not self._closed.is_set():
                    log.exception("pub/sub reader error")

    def _open(self) -> None:
        conn = self._connect()
        conn.connect()
        with self._lock:
            if self._closed.is_set():
                _disconnect(conn)
                return
            self._conn = conn
            self._last_read = time.monotonic()
            self._ping_sent = False
            keys = list(self._refs)
            for key in keys:
                self._unconfirmed.setdefault(key, threading.Event())
            for start in range(0, len(keys), _CHUNK):
                self._send("SUBSCRIBE", *keys[start:start + _CHUNK])
            if keys:
                self._marker_seq += 1
                self._resync_marker = f"resultstore-resync-{self._marker_seq}".encode()
                self._send("PING", self._resync_marker)
            else:
                self._resync_marker = None
            self._connected.set()
            first, self._ever_connected = not self._ever_connected, True
            if self._auth_refused:
                self._auth_refused = False
                log.warning("pub/sub of %s authenticates again: waits are pushed again",
                            self._where or "redis")
        if not keys and not first:
            self._reconnected()

    def _auth_failed(self, exc: BaseException) -> None:
        """Say once that the server refuses the credentials; keep the waits polling meanwhile."""
        if not self._auth_refused:
            self._auth_refused = True
            log.warning(
                "pub/sub of %s: the server refuses the credentials (%s: %s) - was the password "
                "changed? Waits poll (a re-read each second) until it authenticates again; "
                "update the URL or redis_password.", self._where or "redis", type(exc).__name__,
                mask_text(str(exc)))
        else:
            log.debug("pub/sub still refused: %s", mask_text(str(exc)))
        with self._lock:
            waited = bool(self._refs)
        if waited:
            self._reconnected()  # core re-reads the waited keys over the (still open) pool

    def _reconnected(self) -> None:
        try:
            self._on_reconnect()
        except Exception:  # the waiter layer's bug must not stop delivery
            log.exception("on_reconnect callback failed")

    def _read_once(self) -> None:
        conn = self._conn
        if conn is None:
            return
        with self._lock:
            ready = conn is self._conn and conn.can_read(timeout=0)
        if not ready:
            sock = getattr(conn, "_sock", None)
            if sock is None:
                raise redis.exceptions.ConnectionError("pub/sub socket closed")
            readable, _, _ = select.select([sock], [], [], 1.0)
            if not readable:
                self._maybe_ping()
            return
        with self._lock:
            if conn is not self._conn:
                return
            response = conn.read_response()
            self._last_read = time.monotonic()
            self._ping_sent = False
            deliver = self._handle(response)
        if deliver is not None:
            if deliver is _RESYNCED:
                self._reconnected()
                return
            try:
                self._on_message(*deliver)
            except Exception:  # one waiter's failure must not stop the others
                log.exception("pub/sub message handler failed")

    def _maybe_ping(self) -> None:
        idle = time.monotonic() - self._last_read
        with self._lock:
            if self._conn is None:
                return
            if self._ping_sent and idle > 2 * self._idle_ping:
                raise redis.exceptions.TimeoutError("pub/sub connection did not answer PING")
            if not self._ping_sent and idle > self._idle_ping:
                self._ping_sent = True
                self._send("PING")

    def _handle(self, response: Any) -> tuple[str, bytes] | None:
        """Interpret one reply (lock held); return ``(key, value)`` to deliver."""
        if not isinstance(response, list) or not response:
            if response == self._resync_marker:
                self._resync_marker = None
                return _RESYNCED
            return None
        kind = _text(response[0])
        if kind == "message" and len(response) == 3:
            key = _text(response[1])
            if key in self._refs:
                value = response[2]
                return key, value if isinstance(value, bytes) else str(value).encode()
            return None
        if kind == "subscribe":
            event = self._unconfirmed.pop(_text(response[1]), None)
            if event is not None:
                event.set()
        elif kind == "pong" and len(response) > 1 and self._resync_marker is not None \
                and response[1] == self._resync_marker:
            self._resync_marker = None
            return _RESYNCED
        return None


def _refused(exc: BaseException) -> bool:
    if isinstance(exc, _AUTH):
        return True
    return isinstance(exc, redis.exceptions.ResponseError) and any(
        reply in str(exc) for reply in _AUTH_REPLIES)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _disconnect(conn: Any) -> None:
    try:
        conn.disconnect()
    except Exception:  # noqa: BLE001 - closing a broken socket may fail; nothing to keep
        pass
