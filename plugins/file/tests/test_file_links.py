"""Symbolic links (and FIFOs) planted in the result directory are never followed.

Someone with write access to the directory plants a link where the store opens,
creates, times, renames or links a file; the store must neither create nor touch
anything outside the directory, nor read through the link (issue 14, item 8).
One test per path the store opens.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import pytest

from resultstore.config import Settings
from resultstore.errors import BackendError, BackendGetMetaError
from resultstore_file import FileStore
from resultstore_file.layout import LOCK_STRIPES

KEY = "celery-task-meta-victim"
OLD = 1_000_000_000  # an mtime in 2001


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    place = tmp_path / "outside"
    place.mkdir()
    return place


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore.from_url(f"file://{tmp_path / 'results'}", Settings(result_expires=60))


def meta(store: FileStore) -> Path:
    store.layout.ensure()
    return Path(os.fsdecode(store.layout.meta))


def untouched(target: Path) -> None:
    """The link target was neither created nor written nor re-timed."""
    if target.exists():
        stat = target.stat()
        assert stat.st_mtime == OLD and target.read_bytes() == b"precious", target
    else:
        assert not target.exists(), f"{target} was created through a link"


def precious(path: Path) -> Path:
    path.write_bytes(b"precious")
    os.utime(path, (OLD, OLD))
    return path


def test_expiry_marker_link_is_replaced_not_followed(store: FileStore, outside: Path) -> None:
    victim, missing = precious(outside / "victim"), outside / "created"
    (meta(store) / "expires" / KEY).symlink_to(victim)
    store.set(KEY, b"v1", ttl=60)
    untouched(victim)
    (meta(store) / "expires" / KEY).unlink()
    (meta(store) / "expires" / KEY).symlink_to(missing)
    store.set(KEY, b"v2", ttl=60)
    untouched(missing)
    marker = meta(store) / "expires" / KEY
    assert not marker.is_symlink() and marker.stat().st_mtime > time.time()


def test_lock_stripe_link_is_replaced_not_followed(store: FileStore, outside: Path) -> None:
    stripe = b"%02x" % (zlib.crc32(KEY.encode()) % LOCK_STRIPES)
    missing = outside / "created-by-lock"
    (meta(store) / "locks" / stripe.decode()).symlink_to(missing)
    store.set(KEY, b"v", ttl=None)
    untouched(missing)
    assert not (meta(store) / "locks" / stripe.decode()).is_symlink()


def test_result_file_link_is_refused_on_read(store: FileStore, outside: Path) -> None:
    victim = precious(outside / "secret")
    Path(os.fsdecode(store.layout.data(KEY.encode()))).symlink_to(victim)
    with pytest.raises(BackendGetMetaError, match="symbolic link"):
        store.get(KEY)
    with pytest.raises(BackendGetMetaError):  # batched reads too
        store.mget([KEY])


@pytest.mark.timeout(10)  # before the fix the read blocked forever
def test_result_file_fifo_does_not_block(store: FileStore) -> None:
    os.mkfifo(store.layout.data(KEY.encode()))
    with pytest.raises(BackendGetMetaError, match="not a regular file"):
        store.get(KEY)


def test_writing_over_a_result_link_replaces_the_link(store: FileStore, outside: Path) -> None:
    victim = precious(outside / "victim")
    data = Path(os.fsdecode(store.layout.data(KEY.encode())))
    data.symlink_to(victim)
    assert store.set_unless_prefix(KEY, b"mine", None, b"{\"status\": \"SUCCESS\"")
    untouched(victim)
    assert not data.is_symlink() and store.get(KEY) == b"mine"
    data.unlink()
    data.symlink_to(victim)
    assert store.incr(KEY, None) == 1  # incr renames over the link too
    untouched(victim)


@pytest.mark.parametrize("side", ["tmp", "expires", "locks", "chords"])
def test_side_channel_directory_link_is_refused(tmp_path: Path, outside: Path, side: str) -> None:
    root = tmp_path / "results"
    (root / ".resultstore").mkdir(parents=True)
    (root / ".resultstore" / side).symlink_to(outside, target_is_directory=True)
    store = FileStore.from_url(f"file://{root}", Settings())
    with pytest.raises(BackendError, match="symbolic link"):
        store.set(KEY, b"v", ttl=60)
    assert list(outside.iterdir()) == []


def test_meta_directory_link_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "results"
    root.mkdir()
    (root / ".resultstore").symlink_to(outside, target_is_directory=True)
    store = FileStore.from_url(f"file://{root}", Settings())
    with pytest.raises(BackendError, match="symbolic link"):
        store.set(KEY, b"v", ttl=60)


def test_chord_directory_links_are_refused(store: FileStore, outside: Path) -> None:
    group = "celery-taskset-meta-g1"
    chords = meta(store) / "chords"
    (chords / group).symlink_to(outside, target_is_directory=True)
    with pytest.raises(BackendError, match="symbolic link"):
        store.chord_set_size(group, 2, ttl=60)
    (chords / group).unlink()
    (chords / group).mkdir()
    (chords / group / "parts").symlink_to(outside, target_is_directory=True)
    with pytest.raises(BackendError, match="symbolic link"):
        store.chord_add(group, "member-1", 0, b"part", ttl=60)
    assert list(outside.iterdir()) == []  # no part hard-linked outside


def test_chord_files_links_are_not_followed(store: FileStore, outside: Path) -> None:
    group = "celery-taskset-meta-g2"
    store.chord_set_size(group, 2, ttl=60)
    chord = meta(store) / "chords" / group
    victim = precious(outside / "victim")
    (chord / "expires").unlink()
    (chord / "expires").symlink_to(victim)
    store.chord_set_size(group, 2, ttl=60)  # re-times the marker: replaces the link
    untouched(victim)
    (chord / "size").unlink()
    (chord / "size").symlink_to(victim)
    store.chord_set_size(group, 1, ttl=60)  # rename over the link replaces it
    untouched(victim)
    (chord / "grow").symlink_to(victim)
    with pytest.raises(BackendError, match="symbolic link"):
        store.chord_grow(group, 1, ttl=60)
    (chord / "grow").unlink()
    (chord / "parts" / "m-planted").symlink_to(victim)
    with pytest.raises(BackendError, match="symbolic link"):
        store.chord_parts(group)
    untouched(victim)


def test_cleanup_follows_no_link(store: FileStore, outside: Path) -> None:
    victim = precious(outside / "victim")
    name = "celery-task-meta-old"
    (meta(store) / "expires" / name).symlink_to(victim)  # an "expired" marker via a link
    data = Path(os.fsdecode(store.layout.data(name.encode())))
    data.symlink_to(victim)
    os.utime(data, (OLD, OLD), follow_symlinks=False)
    (meta(store) / "chords" / "celery-taskset-meta-x").symlink_to(outside, target_is_directory=True)
    (meta(store) / "tmp" / "leftover").symlink_to(victim)
    os.utime(meta(store) / "tmp" / "leftover", (OLD, OLD), follow_symlinks=False)
    store.cleanup()
    untouched(victim)
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert not (meta(store) / "chords" / "celery-taskset-meta-x").exists()
