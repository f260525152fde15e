"""Chord counting across processes with nothing but atomic file-system operations.

One directory per chord, ``.resultstore/chords/<group key>/``::

    size        expected number of parts (atomic write)
    grow        extra parts from ``add_to_chord`` (updated under the key lock)
    parts/m-<member>   one file per recorded part: "<index>:<ns>\\n" + value
    claim       created with O_EXCL by the one caller that completes the chord
    expires     empty; mtime = when ``cleanup`` may remove the directory

A part is written to a temporary file, fsynced, then hard-linked into ``parts/``
under a name derived from its member: ``link(2)`` fails with EEXIST for a second
delivery of the same member, so a duplicate is recorded once and a reader never
sees a half-written part.  After linking, the caller counts ``parts/``; whoever
sees ``count >= size`` tries to create ``claim`` with ``O_EXCL``, which succeeds
for exactly one process.  A redelivered part may also claim, so a worker that
died between linking and claiming does not leave the chord stuck.
"""

from __future__ import annotations

import os
import shutil
import time

from resultstore.spec import ChordProgress

from .layout import Layout, check_key, member_name, read_file, real_directory, unlink_quietly

__all__ = ["FileChords"]

#: Seconds the "done" marker of a finished chord is kept (Celery keeps ``G.c`` 300 s).
DONE_EXPIRES = 300.0
_EXCL = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class FileChords:
    """The CHORD capability of :class:`~resultstore_file.store.FileStore`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _dir(self, group_key: str) -> bytes:
        return os.path.join(self.layout.chords, check_key(group_key))

    def _open(self, group_key: str, ttl: float | None) -> bytes:
        path = self._dir(group_key)
        os.makedirs(path, exist_ok=True)
        real_directory(path)  # makedirs(exist_ok) accepts links to directories elsewhere
        os.makedirs(os.path.join(path, b"parts"), exist_ok=True)
        real_directory(os.path.join(path, b"parts"))
        if ttl:
            self.layout.set_deadline(os.path.join(path, b"expires"), ttl)
        return path

    def _size(self, path: bytes) -> int | None:
        raw = read_file(os.path.join(path, b"size"))
        if raw is None:
            return None
        return int(raw) + int(read_file(os.path.join(path, b"grow")) or 0)

    def set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        self.layout.ensure()
        path = self._open(group_key, ttl)
        unlink_quietly(os.path.join(path, b"claim"))
        self.layout.replace(self.layout.write_tmp(b"%d" % size), os.path.join(path, b"size"))

    def grow(self, group_key: str, by: int, ttl: float | None) -> None:
        self.layout.ensure()
        path = self._open(group_key, ttl)
        with self.layout.locked(check_key(group_key)):
            current = int(read_file(os.path.join(path, b"grow")) or 0)
            self.layout.replace(self.layout.write_tmp(b"%d" % (current + by)),
                                os.path.join(path, b"grow"))

    def add(self, group_key: str, member: str, index: int | None, value: bytes,
            ttl: float | None) -> ChordProgress:
        self.layout.ensure()
        path = self._open(group_key, ttl)
        parts = os.path.join(path, b"parts")
        claim = os.path.join(path, b"claim")
        if os.path.lexists(claim):  # finished: a late duplicate changes nothing
            return ChordProgress(len(os.listdir(parts)), self._size(path), False)
        header = b"%s:%d\n" % (b"" if index is None else b"%d" % index, time.time_ns())
        tmp = self.layout.write_tmp(header + value)
        try:
            os.link(tmp, os.path.join(parts, member_name(member)), follow_symlinks=False)
        except FileExistsError:
            pass  # this member was recorded before: count it once
        finally:
            unlink_quietly(tmp)
        count = len(os.listdir(parts))
        size = self._size(path)
        complete = False
        if size is not None and count >= size:
            try:
                os.close(os.open(claim, _EXCL, 0o666))
                complete = True
            except FileExistsError:
                pass
        return ChordProgress(count, size, complete)

    def parts(self, group_key: str) -> list[bytes]:
        parts = os.path.join(self._dir(group_key), b"parts")
        try:
            names = os.listdir(parts)
        except FileNotFoundError:
            return []
        found: list[tuple[float, int, bytes]] = []
        for name in names:
            raw = read_file(os.path.join(parts, name))
            if raw is None:
                continue
            header, _, value = raw.partition(b"\n")
            index, _, stamp = header.partition(b":")
            found.append((float(index) if index else float("inf"), int(stamp), value))
        found.sort(key=lambda part: (part[0], part[1]))
        return [value for _, _, value in found]

    def clear(self, group_key: str) -> None:
        path = self._dir(group_key)
        shutil.rmtree(os.path.join(path, b"parts"), ignore_errors=True)
        for name in (b"size", b"grow"):
            unlink_quietly(os.path.join(path, name))
        if os.path.isdir(path) and not os.path.islink(path):
            self.layout.set_deadline(os.path.join(path, b"expires"), DONE_EXPIRES)

    def cleanup(self, now: float) -> int:
        """Remove chord directories whose deadline passed; return how many."""
        removed = 0
        try:
            entries = list(os.scandir(self.layout.chords))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):  # a planted link: drop it, never follow
                unlink_quietly(entry.path)
                continue
            deadline = Layout.deadline(os.path.join(entry.path, b"expires"))
            if deadline is not None and deadline < now:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        return removed
