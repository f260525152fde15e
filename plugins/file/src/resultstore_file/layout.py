"""The directory layout and the file primitives the store is built from.

::

    <dir>/<key>                        the value: the same name and bytes as Celery's FilesystemBackend
    <dir>/.resultstore/tmp/<random>    a value being written; renamed over <dir>/<key> once complete
    <dir>/.resultstore/expires/<key>   empty file whose mtime is the key's expiry deadline (absent: none)
    <dir>/.resultstore/locks/<nn>      256 fcntl lock stripes serializing the writers of a key
    <dir>/.resultstore/chords/<key>/   chord bookkeeping (see :mod:`resultstore_file.chords`)

Celery's backend only ever touches ``<dir>/<key>`` files (its ``cleanup`` lists the
directory and matches key prefixes), so the hidden side-channel does not disturb it,
and every value stays a plain file it can read.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from resultstore.errors import BackendError, BackendStoreError, InvalidTaskId

__all__ = ["Layout", "check_key", "member_name", "read_file", "unlink_quietly", "storage_errors",
           "LinkRefused", "open_own", "real_directory"]

META = b".resultstore"
LOCK_STRIPES = 256
#: NAME_MAX of Linux/macOS file systems.
NAME_MAX = 255

#: Every open refuses a symbolic link as its last component (O_NOFOLLOW) and never
#: blocks on a FIFO planted in the directory (O_NONBLOCK; regular files ignore it).
_SAFE = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE
_READ_FLAGS = os.O_RDONLY | _SAFE
_OWN_FLAGS = os.O_RDWR | os.O_CREAT | _SAFE
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EROFS, errno.EACCES, errno.EPERM}


def check_key(key: str) -> bytes:
    """The file name of ``key``; InvalidTaskId for names that could leave the directory."""
    if not isinstance(key, str) or not key:
        raise InvalidTaskId(f"A file store key must be a non-empty string, got {key!r}.")
    bad = [c for c in ("/", "\\", "\x00") if c in key]
    if bad or key.startswith("."):
        what = f"contains {bad[0]!r}" if bad else "starts with '.'"
        raise InvalidTaskId(
            f"Refusing id {key!r}: it {what}, which could name a file outside the result "
            f"directory or a hidden file. Use ids without path separators (e.g. UUIDs).")
    try:
        name = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTaskId(f"Refusing id {key!r}: it is not valid UTF-8.") from None
    if len(name) > NAME_MAX:
        raise InvalidTaskId(
            f"Refusing id of {len(name)} bytes: a file name holds at most {NAME_MAX} bytes "
            f"including the {key.split('-')[0]}... prefix.")
    return name


def member_name(member: str) -> bytes:
    """A safe, unique file name for a chord member (a task id that may hold anything)."""
    quoted = "m-" + quote(member, safe="-_.")
    if len(quoted) > 200:
        quoted = "h-" + uuid.uuid5(uuid.NAMESPACE_URL, member).hex
    return quoted.encode("ascii")


class LinkRefused(BackendError):
    """A path of the store is a symbolic link, a FIFO or a device: refused, never followed."""


def _refuse(path: bytes, what: str) -> LinkRefused:
    return LinkRefused(
        f"Refusing {os.fsdecode(path)}: it is {what}, not a file this store wrote. Someone with "
        f"write access to the result directory planted it; remove it (nothing was followed).")


def _regular(fd: int, path: bytes) -> None:
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _refuse(path, "a directory" if stat.S_ISDIR(mode) else "not a regular file")


def read_file(path: bytes) -> bytes | None:
    """The whole content of ``path``, ``None`` when it does not exist.

    A symbolic link, FIFO or device at ``path`` raises :class:`LinkRefused`.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, "a symbolic link") from None
        raise
    _regular(fd, path)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_own(path: bytes) -> int:
    """Open (creating) a side-channel file this store owns, never through a link.

    A symbolic link planted in its place is removed and the file created anew: the
    side-channel belongs to the store, and following the link would create files or
    set times outside the directory.
    """
    for _ in range(3):
        try:
            fd = os.open(path, _OWN_FLAGS, 0o666)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            unlink_quietly(path)  # unlink removes the link itself, never its target
            continue
        _regular(fd, path)
        return fd
    raise _refuse(path, "a symbolic link that keeps coming back")


def real_directory(path: bytes) -> None:
    """Raise :class:`LinkRefused` unless ``path`` is a directory and not a symbolic link."""
    mode = os.lstat(path).st_mode
    if not stat.S_ISDIR(mode):
        raise _refuse(path, "a symbolic link" if stat.S_ISLNK(mode) else "not a directory")


def unlink_quietly(path: bytes) -> bool:
    """Remove ``path``; True if it existed."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


@contextmanager
def storage_errors(directory: str, action: str) -> Iterator[None]:
    """Turn "disk full" and "read-only" into a BackendStoreError that says so."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise BackendStoreError(
                f"Cannot {action}: no space left in {directory} ({os.strerror(exc.errno)}). "
                f"Nothing was overwritten: the previous value, if any, is intact.") from exc
        if exc.errno in _DENIED:
            raise BackendStoreError(
                f"Cannot {action}: {directory} is not writable ({os.strerror(exc.errno)}). "
                f"Mount it read-write or fix its permissions; stored results are intact.") from exc
        raise


class Layout:
    """Paths inside one result directory, and the write/lock primitives."""

    def __init__(self, root: str, fsync: bool = False) -> None:
        self.directory = root
        self.root = os.fsencode(root)
        self.fsync = fsync
        self.meta = os.path.join(self.root, META)
        self.tmp = os.path.join(self.meta, b"tmp")
        self.expires = os.path.join(self.meta, b"expires")
        self.locks = os.path.join(self.meta, b"locks")
        self.chords = os.path.join(self.meta, b"chords")
        self._ready_pid = 0

    def data(self, name: bytes) -> bytes:
        return os.path.join(self.root, name)

    def expiry(self, name: bytes) -> bytes:
        return os.path.join(self.expires, name)

    def ensure(self, again: bool = False) -> None:
        """Create the side-channel directories (once per process, or ``again``)."""
        if self._ready_pid == os.getpid() and not again:
            return
        for path in (self.tmp, self.expires, self.locks, self.chords):
            os.makedirs(path, exist_ok=True)
        for path in (self.meta, self.tmp, self.expires, self.locks, self.chords):
            real_directory(path)  # makedirs(exist_ok) accepts a link to a directory elsewhere
        self._ready_pid = os.getpid()

    def write_tmp(self, value: bytes, directory: bytes | None = None) -> bytes:
        """Write ``value`` to a new temporary file (fsynced with ``fsync=1``) and return its path.

        On any failure the partial file is removed and the error re-raised.
        """
        self.ensure()
        path = os.path.join(directory or self.tmp, uuid.uuid4().hex.encode())
        try:
            fd = os.open(path, _WRITE_FLAGS, 0o666)
        except FileNotFoundError:  # side-channel removed under us: recreate once
            self.ensure(again=True)
            fd = os.open(path, _WRITE_FLAGS, 0o666)
        try:
            view = memoryview(value)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            unlink_quietly(path)
            raise
        os.close(fd)
        return path

    def replace(self, tmp: bytes, target: bytes) -> None:
        """Atomically move a written temporary file over ``target``."""
        try:
            os.replace(tmp, target)
        except BaseException:
            unlink_quietly(tmp)
            raise

    @contextmanager
    def locked(self, name: bytes) -> Iterator[None]:
        """Hold the cross-process (and cross-thread) lock of key ``name``.

        ``flock`` locks belong to the open file description, so every holder opens
        its own: threads of one process exclude each other too, and a forked child
        never inherits a held lock.
        """
        self.ensure()
        stripe = os.path.join(self.locks, b"%02x" % (zlib.crc32(name) % LOCK_STRIPES))
        try:
            fd = open_own(stripe)
        except FileNotFoundError:  # side-channel removed under us: recreate once
            self.ensure(again=True)
            fd = open_own(stripe)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def set_deadline(self, path: bytes, ttl: float | None) -> None:
        """Record ``now + ttl`` as the mtime of the marker ``path`` (remove it for no TTL)."""
        if not ttl:
            unlink_quietly(path)
            return
        deadline_ns = time.time_ns() + int(ttl * 1e9)
        try:
            fd = open_own(path)
        except FileNotFoundError:
            self.ensure(again=True)
            fd = open_own(path)
        try:
            os.utime(fd, ns=(deadline_ns, deadline_ns))  # on the fd: never through a link
        finally:
            os.close(fd)

    @staticmethod
    def deadline(path: bytes) -> float | None:
        """The deadline recorded in marker ``path`` (epoch seconds), ``None`` if unset."""
        try:
            return os.lstat(path).st_mtime  # a planted link's own time, never its target's
        except (FileNotFoundError, NotADirectoryError):
            return None
