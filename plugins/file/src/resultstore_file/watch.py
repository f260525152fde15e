"""Push notification of new values: inotify on Linux, an efficient poll elsewhere.

:class:`InotifySubscriber` watches the result directory for files renamed into
it (our atomic writes: ``IN_MOVED_TO``) and files closed after writing
(Celery's FilesystemBackend writes in place: ``IN_CLOSE_WRITE``), through the
``inotify_simple`` library.  One watch covers every key; the kernel wakes the
delivery thread, so waiting costs nothing.  On a queue overflow the store
calls ``on_reconnect`` so core re-reads every key still waited on.

:class:`PollSubscriber` is the portable fallback (and ``?watch=poll``): every
``poll_interval`` seconds it ``stat()``s only the subscribed keys and delivers
those whose (inode, mtime, size) changed; cost is one ``stat`` per waited key per
interval, latency at most one interval.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from resultstore.spec import MessageHandler

if TYPE_CHECKING:
    from .store import FileStore

__all__ = ["InotifySubscriber", "PollSubscriber", "inotify_available"]

log = logging.getLogger(__name__)


def inotify_available() -> bool:
    """True when the ``inotify_simple`` library and the kernel API are usable."""
    try:
        import inotify_simple  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


class _Base:
    def __init__(self, store: FileStore, on_message: MessageHandler,
                 on_reconnect: Callable[[], None]) -> None:
        self.store = store
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.keys: set[str] = set()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"resultstore-file-{type(self).__name__}")

    def subscribe(self, key: str) -> None:
        self.store.layout.data(self.store.name_of(key))  # refuse unsafe keys early
        with self.lock:
            self.keys.add(key)

    def unsubscribe(self, key: str) -> None:
        with self.lock:
            self.keys.discard(key)

    def _deliver(self, key: str) -> None:
        try:
            value = self.store.get(key)
            if value is not None:
                self.on_message(key, value)
        except Exception:  # one bad value or callback must not stop delivery
            log.exception("resultstore-file: delivering %s failed", key)

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(5)
        with self.lock:
            self.keys.clear()


class InotifySubscriber(_Base):
    """Kernel-pushed wake-ups (Linux); see the module docstring."""

    def __init__(self, store: FileStore, on_message: MessageHandler,
                 on_reconnect: Callable[[], None]) -> None:
        super().__init__(store, on_message, on_reconnect)
        from inotify_simple import INotify, flags

        self._flags = flags
        self.inotify = INotify()
        self.inotify.add_watch(store.layout.root, flags.MOVED_TO | flags.CLOSE_WRITE)
        self._wake_r, self._wake_w = os.pipe()
        self.thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.inotify.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while not self.closed.is_set():
                ready = {fd for fd, _ in poller.poll()}
                if self._wake_r in ready or self.closed.is_set():
                    break
                overflow = False
                wanted: list[str] = []
                for event in self.inotify.read(timeout=0):
                    if event.mask & self._flags.Q_OVERFLOW:
                        overflow = True
                        continue
                    with self.lock:
                        if event.name in self.keys:
                            wanted.append(event.name)
                for key in dict.fromkeys(wanted):
                    self._deliver(key)
                if overflow:
                    log.warning("resultstore-file: inotify queue overflowed; re-reading waited keys")
                    self.on_reconnect()
        finally:
            self.inotify.close()
            os.close(self._wake_r)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            os.write(self._wake_w, b"x")
            super().close()
            os.close(self._wake_w)


class PollSubscriber(_Base):
    """Portable fallback: stat the waited keys every ``poll_interval`` seconds."""

    def __init__(self, store: FileStore, on_message: MessageHandler,
                 on_reconnect: Callable[[], None]) -> None:
        super().__init__(store, on_message, on_reconnect)
        self.interval = store.options.poll_interval
        self.seen: dict[str, tuple[int, int, int] | None] = {}
        self.thread.start()

    def _signature(self, key: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.store.layout.data(self.store.name_of(key)))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def subscribe(self, key: str) -> None:
        signature = self._signature(key)
        with self.lock:
            self.keys.add(key)
            self.seen[key] = signature

    def unsubscribe(self, key: str) -> None:
        with self.lock:
            self.keys.discard(key)
            self.seen.pop(key, None)

    def _run(self) -> None:
        while not self.closed.wait(self.interval):
            with self.lock:
                keys = list(self.keys)
            for key in keys:
                signature = self._signature(key)
                with self.lock:
                    if key not in self.seen or self.seen[key] == signature:
                        continue
                    self.seen[key] = signature
                if signature is not None:
                    self._deliver(key)
