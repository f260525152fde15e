"""``FileStore``: results as files in one directory, safe across processes.

Each key is one file named like the key (``celery-task-meta-<id>``) holding the
exact bytes Celery's ``FilesystemBackend`` writes, so either backend reads the
other's directory. Writes go to a temporary file that is renamed over the target
(fsynced first with ``?fsync=1``), so readers never see a torn value and a full
disk (or, with ``fsync=1``, a crash) leaves the previous value intact. Writers
of one key serialize on an ``flock`` stripe, which makes "never overwrite a
stored SUCCESS" and ``incr`` atomic across processes. Expiry lives in a side-
channel (see :mod:`.layout`) because Celery's files carry no TTL; ``cleanup``
applies it, and applies Celery's own rule (mtime older than ``result_expires``)
to files that have none.

    >>> store = FileStore.from_url("file:///tmp/results", Settings())  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence

from resultstore import keys as celery_keys
from resultstore.config import Settings
from resultstore.errors import BackendGetMetaError, ImproperlyConfigured
from resultstore.spec import Capability, ChordProgress, KeyValueStore, MessageHandler, Subscriber

from .chords import FileChords
from .layout import Layout, LinkRefused, check_key, read_file, storage_errors, unlink_quietly
from .url import FileOptions, parse_url
from .watch import InotifySubscriber, PollSubscriber, inotify_available

__all__ = ["FileStore"]

log = logging.getLogger(__name__)

#: Temporary files older than this are leftovers of crashed writers.
STALE_TMP_SECONDS = 3600.0
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ESTALE}


class FileStore(KeyValueStore):
    """A directory of result files; see the module docstring."""

    capabilities = frozenset({
        Capability.INCR, Capability.CHORD, Capability.SUBSCRIBE, Capability.SCAN,
        Capability.CLEANUP, Capability.GUARDED_SET, Capability.TTL,
    })

    def __init__(self, options: FileOptions, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.options = options
        self.layout = Layout(options.path, fsync=options.fsync)
        self.chords = FileChords(self.layout)
        #: Celery's cleanup rule for files without an expiry record.
        self.default_expires = settings.expires
        prefix = settings.global_keyprefix
        self.celery_prefixes = tuple(
            (prefix + p).encode() for p in (celery_keys.TASK_PREFIX, celery_keys.GROUP_PREFIX,
                                            celery_keys.CHORD_PREFIX))
        self._open_directory()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> FileStore:
        return cls(parse_url(url), settings)

    def _open_directory(self) -> None:
        path = self.options.path
        if os.path.isdir(path):
            return
        if os.path.exists(path):
            raise ImproperlyConfigured(f"file backend: {path} exists but is not a directory.")
        if not self.options.create:
            raise ImproperlyConfigured(
                f"file backend: result directory {path} does not exist. Create it, or drop "
                f"'create=0' from the URL to let the backend create it.")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"file backend: cannot create result directory {path}: {exc.strerror}.") from exc
        log.warning("resultstore-file: created result directory %s", path)

    def name_of(self, key: str) -> bytes:
        """The file name of ``key`` (refuses names that could escape the directory)."""
        return check_key(key)

    # -- reading ----------------------------------------------------------------
    def _expired(self, name: bytes, now: float | None = None) -> bool:
        deadline = Layout.deadline(self.layout.expiry(name))
        return deadline is not None and deadline <= (now or time.time())

    def get(self, key: str) -> bytes | None:
        name = check_key(key)
        try:
            value = read_file(self.layout.data(name))
        except LinkRefused as exc:  # a link, directory or FIFO planted as a result file
            raise BackendGetMetaError(str(exc)) from None
        if value is None or self._expired(name):
            return None
        return value

    # -- writing ----------------------------------------------------------------
    def _put(self, name: bytes, value: bytes, ttl: float | None,
             keep: Callable[[bytes | None], bool] | None = None) -> bool:
        tmp = self.layout.write_tmp(value)  # outside the lock: the lock is held briefly
        placed = False
        try:
            with self.layout.locked(name):
                if keep is not None:
                    current = self._current(name)
                    if current is not None and self._expired(name):
                        current = None
                    if keep(current):
                        return False
                self.layout.set_deadline(self.layout.expiry(name), ttl)
                self.layout.replace(tmp, self.layout.data(name))
                placed = True
                return True
        finally:
            if not placed:
                unlink_quietly(tmp)

    def _current(self, name: bytes) -> bytes | None:
        """The value about to be replaced; a planted link counts as none (rename replaces it)."""
        try:
            return read_file(self.layout.data(name))
        except LinkRefused:
            return None

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        name = check_key(key)
        with storage_errors(self.options.path, f"store {key}"):
            self._put(name, value, ttl)

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        name = check_key(key)
        with storage_errors(self.options.path, f"store {key}"):
            return self._put(name, value, ttl,
                             keep=lambda current: current is not None and current.startswith(prefix))

    def delete(self, key: str) -> None:
        name = check_key(key)
        with storage_errors(self.options.path, f"delete {key}"), self.layout.locked(name):
            unlink_quietly(self.layout.data(name))
            unlink_quietly(self.layout.expiry(name))

    def incr(self, key: str, ttl: float | None) -> int:
        name = check_key(key)
        with storage_errors(self.options.path, f"increment {key}"), self.layout.locked(name):
            current = None if self._expired(name) else self._current(name)
            value = int(current or 0) + 1
            self.layout.set_deadline(self.layout.expiry(name), ttl)
            self.layout.replace(self.layout.write_tmp(b"%d" % value), self.layout.data(name))
            return value

    # -- chords -------------------------------------------------------------------
    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        with storage_errors(self.options.path, f"set the size of chord {group_key}"):
            self.chords.set_size(group_key, size, ttl)

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        with storage_errors(self.options.path, f"record a part of chord {group_key}"):
            return self.chords.add(group_key, member, index, value, ttl)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        with storage_errors(self.options.path, f"grow chord {group_key}"):
            self.chords.grow(group_key, by, ttl)

    def chord_parts(self, group_key: str) -> list[bytes]:
        return self.chords.parts(group_key)

    def chord_clear(self, group_key: str) -> None:
        with storage_errors(self.options.path, f"clear chord {group_key}"):
            self.chords.clear(group_key)

    # -- push, listing, expiry --------------------------------------------------------
    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> Subscriber:
        """inotify where available (``watch=auto|inotify``), else polling (see :mod:`.watch`)."""
        mode = self.options.watch
        if mode == "inotify" or (mode == "auto" and sys.platform == "linux" and inotify_available()):
            return InotifySubscriber(self, on_message, on_reconnect)
        return PollSubscriber(self, on_message, on_reconnect)

    def scan(self, prefix: str) -> Iterator[str]:
        wanted = prefix.encode("utf-8")
        now = time.time()
        with os.scandir(self.layout.root) as entries:
            names = [e.name for e in entries
                     if e.name.startswith(wanted) and not e.name.startswith(b".")
                     and e.is_file(follow_symlinks=False)]
        for name in names:
            if not self._expired(name, now):
                try:
                    yield name.decode("utf-8")
                except UnicodeDecodeError:
                    continue  # not a key this store could have written

    def ttls(self, keys: Sequence[str]) -> list[float | None]:
        """Seconds to each key's recorded deadline (``None``: none recorded, Celery's rule)."""
        now = time.time()
        deadlines = [Layout.deadline(self.layout.expiry(check_key(key))) for key in keys]
        return [None if d is None else max(d - now, 0.001) for d in deadlines]

    def cleanup(self) -> int:
        """Delete expired values; return how many.

        Values with an expiry record go when it passes; values without one (written
        by Celery's FilesystemBackend) go when their mtime is older than
        ``result_expires``, exactly as Celery's own ``cleanup``.  Also removes
        finished chord bookkeeping and temporary files of crashed writers.
        """
        now = time.time()
        with storage_errors(self.options.path, "clean up"):
            removed = self._cleanup_recorded(now) + self._cleanup_celery(now)
            self.chords.cleanup(now)
            self._cleanup_tmp(now)
        return removed

    def _cleanup_recorded(self, now: float) -> int:
        removed = 0
        try:
            markers = [e.name for e in os.scandir(self.layout.expires)
                       if e.stat(follow_symlinks=False).st_mtime <= now]
        except FileNotFoundError:
            return 0
        for name in markers:
            with self.layout.locked(name):
                if self._expired(name, now):  # not re-stored meanwhile
                    removed += unlink_quietly(self.layout.data(name))
                    unlink_quietly(self.layout.expiry(name))
        return removed

    def _cleanup_celery(self, now: float) -> int:
        if not self.default_expires:
            return 0
        cutoff = now - self.default_expires
        removed = 0
        with os.scandir(self.layout.root) as entries:
            old = [e.name for e in entries if e.name.startswith(self.celery_prefixes)
                   and e.is_file(follow_symlinks=False)
                   and e.stat(follow_symlinks=False).st_mtime < cutoff]
        for name in old:
            with self.layout.locked(name):
                path = self.layout.data(name)
                if Layout.deadline(self.layout.expiry(name)) is None:
                    try:
                        if os.lstat(path).st_mtime < cutoff:
                            removed += unlink_quietly(path)
                    except FileNotFoundError:
                        pass
        return removed

    def _cleanup_tmp(self, now: float) -> None:
        try:
            entries = list(os.scandir(self.layout.tmp))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_mtime < now - STALE_TMP_SECONDS:
                    unlink_quietly(entry.path)
            except FileNotFoundError:
                continue

    # -- misc ---------------------------------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS

    def as_uri(self, include_password: bool = False) -> str:
        return self.options.as_uri()
