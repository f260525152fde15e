"""File-store specifics: layout, unsafe ids, bad directories, torn reads, cleanup, chords."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore import states
from resultstore.config import Settings
from resultstore.errors import BackendStoreError, ImproperlyConfigured, InvalidTaskId
from resultstore_file import FileStore, parse_url

MakeBackend = Callable[..., resultstore.ResultBackend]


def test_layout_is_celerys(make_file_backend: MakeBackend, result_dir: Path) -> None:
    backend = make_file_backend()
    backend.mark_as_done("abc", [1, "x"])
    names = sorted(os.listdir(result_dir))
    assert names == [".resultstore", "celery-task-meta-abc"]
    raw = (result_dir / "celery-task-meta-abc").read_bytes()
    assert raw.startswith(b'{"status": "SUCCESS", "result": [1, "x"], "traceback": null')
    assert b'"task_id": "abc"' in raw


@pytest.mark.parametrize("task_id", [
    "../escape", "../../etc/passwd", "/etc/passwd", "a/b", "a\\b", "nul\x00byte", "x" * 300,
])
def test_unsafe_ids_are_refused(make_file_backend: MakeBackend, result_dir: Path,
                                task_id: str) -> None:
    backend = make_file_backend()
    before = set(os.listdir(result_dir.parent))
    with pytest.raises(InvalidTaskId, match="Refusing id"):
        backend.mark_as_done(task_id, 1)
    with pytest.raises(InvalidTaskId):
        backend.get_task_meta(task_id)
    with pytest.raises(InvalidTaskId):
        backend.forget(task_id)
    with pytest.raises(InvalidTaskId):
        backend.set_chord_size(task_id, 1)
    assert set(os.listdir(result_dir.parent)) == before
    assert not any(name.endswith(("escape", "passwd")) for name in os.listdir(result_dir))


def test_ids_are_safe_behind_celerys_prefix(make_file_backend: MakeBackend,
                                            result_dir: Path) -> None:
    backend = make_file_backend()
    for task_id in ("..", ".hidden", "..."):
        backend.mark_as_done(task_id, task_id)
        assert backend.get_task_meta(task_id)["result"] == task_id
    assert (result_dir / "celery-task-meta-..").is_file()


@pytest.mark.parametrize("key", ["..", ".", ".resultstore", "../x", ""])
def test_raw_keys_cannot_name_the_side_channel(result_dir: Path, key: str) -> None:
    store = FileStore.from_url(f"file://{result_dir}", Settings())
    with pytest.raises(InvalidTaskId):
        store.set(key, b"x", None)
    with pytest.raises(InvalidTaskId):
        store.get(key)


def test_unsafe_chord_members_stay_inside(make_file_backend: MakeBackend, result_dir: Path) -> None:
    backend = make_file_backend()
    backend.set_chord_size("g1", 2)
    assert backend.chord_part_return("g1", "../../evil", 0, states.SUCCESS, 1) is None
    parts = backend.chord_part_return("g1", "/abs/" + "y" * 300, 1, states.SUCCESS, 2)
    assert parts is not None and [p.result for p in parts] == [1, 2]
    assert [p.task_id for p in parts] == ["../../evil", "/abs/" + "y" * 300]
    assert not (result_dir.parent / "evil").exists()


def test_durability_default_is_celerys_and_fsync_is_opt_in(tmp_path, monkeypatch) -> None:
    """Celery never fsyncs: the default does not either; ``?fsync=1`` fsyncs every value."""
    import os as _os

    import resultstore

    assert parse_url("file:///r").fsync is False and parse_url("file:///r?fsync=1").fsync is True
    synced: list[int] = []
    real_fsync = _os.fsync
    monkeypatch.setattr(_os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    for query, expected in (("", 0), ("?fsync=1", 1)):
        backend = resultstore.connect(f"file://{tmp_path / ('d' + query[-1:])}{query}")
        synced.clear()
        backend.mark_as_done("t", 1)
        backend.mark_as_failure("t", ValueError("late"))  # SUCCESS kept either way
        assert len(synced) == expected * 2
        assert backend.get_task_meta("t", cache=False)["status"] == "SUCCESS"
        backend.close()


def test_url_forms() -> None:
    assert parse_url("file:///var/r").path == "/var/r"
    assert parse_url("file://localhost/var/r").path == "/var/r"
    assert parse_url("file://./rel").path == "./rel"
    options = parse_url("file:///r?create=0&fsync=no&watch=poll&poll_interval=0.2")
    assert (options.create, options.fsync, options.watch, options.poll_interval) == (
        False, False, "poll", 0.2)
    for bad, message in [("redis://x", "file:///path"), ("file://", "needs a directory"),
                         ("file:///r?colour=red", "Unknown file:// option"),
                         ("file:///r?watch=magic", "watch="), ("file:///r?create=maybe", "create="),
                         ("file:///r?poll_interval=0", "poll_interval")]:
        with pytest.raises(ImproperlyConfigured, match=message):
            parse_url(bad)


def test_missing_directory_is_created_with_a_message(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "new" / "results"
    with caplog.at_level(logging.WARNING, logger="resultstore_file"):
        backend = resultstore.connect(f"file://{target}")
    assert target.is_dir()
    assert f"created result directory {target}" in caplog.text
    backend.mark_as_done("t", 1)
    assert backend.get_task_meta("t")["result"] == 1


def test_missing_directory_errors_when_configured(tmp_path: Path) -> None:
    target = tmp_path / "absent"
    with pytest.raises(ImproperlyConfigured, match="does not exist"):
        resultstore.connect(f"file://{target}?create=0")
    assert not target.exists()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ImproperlyConfigured, match="not a directory"):
        resultstore.connect(f"file://{tmp_path / 'plain'}")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path | None]:
    """A 512 KiB tmpfs when we may mount one (root), else ``None`` (fault injection)."""
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    if os.geteuid() != 0 or os.system(f"mount -t tmpfs -o size=512k tmpfs {mountpoint}") != 0:
        yield None
        return
    try:
        yield mountpoint
    finally:
        os.system(f"umount -l {mountpoint}")


def test_disk_full_loses_nothing(small_tmpfs: Path | None, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    directory = small_tmpfs or (tmp_path / "fault")
    backend = resultstore.connect(f"file://{directory}")
    backend.mark_as_done("kept", "previous value")
    backend.store_result("big", "small first", states.STARTED)
    if small_tmpfs is None:  # no mount privilege: fail writes as a full disk does
        def full(fd: int, data: object) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "write", full)
    with pytest.raises(BackendStoreError, match="no space left") as info:
        backend.store_result("big", "z" * 2_000_000, states.SUCCESS)
    monkeypatch.undo()
    assert "previous value, if any, is intact" in str(info.value)
    assert backend.get_task_meta("big")["result"] == "small first"
    assert backend.get_task_meta("kept")["result"] == "previous value"
    assert os.listdir(directory / ".resultstore" / "tmp") == []  # partial file removed


def test_read_only_directory(small_tmpfs: Path | None, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    directory = small_tmpfs or (tmp_path / "ro")
    writer = resultstore.connect(f"file://{directory}")
    writer.mark_as_done("old", 7)
    if small_tmpfs is not None:
        assert os.system(f"mount -o remount,ro {directory}") == 0
    else:  # no mount privilege: a read-only file system refuses every open for writing
        real_open = os.open

        def read_only_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
            return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", read_only_open)
    reader = resultstore.connect(f"file://{directory}")
    with pytest.raises(BackendStoreError, match="is not writable"):
        reader.mark_as_done("new", 1)
    with pytest.raises(BackendStoreError, match="is not writable"):
        reader.forget("old")
    assert reader.get_task_meta("old")["result"] == 7
    assert list(reader.task_ids()) == ["old"]


def test_no_torn_reads(make_file_backend: MakeBackend) -> None:
    backend = make_file_backend()
    store = backend.store
    values = [b"a" * 300_000, b"b" * 700_000]
    store.set("celery-task-meta-torn", values[0], None)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            store.set("celery-task-meta-torn", values[i % 2], None)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = {store.get("celery-task-meta-torn") for _ in range(400)}
    finally:
        stop.set()
        thread.join()
    assert seen <= set(values)


def test_expired_values_are_hidden_then_cleaned(make_file_backend: MakeBackend,
                                                result_dir: Path) -> None:
    backend = make_file_backend(result_expires=0.3)
    backend.mark_as_done("short", 1)
    time.sleep(0.5)
    assert backend.get_task_meta("short")["status"] == states.PENDING
    assert list(backend.task_ids()) == []
    assert (result_dir / "celery-task-meta-short").exists()  # until cleanup
    assert backend.cleanup() == 1
    assert not (result_dir / "celery-task-meta-short").exists()
    assert os.listdir(result_dir / ".resultstore" / "expires") == []


def test_cleanup_applies_celerys_rule_to_unmarked_files(result_dir: Path) -> None:
    old = result_dir / "celery-task-meta-from-celery"
    old.write_bytes(b'{"status": "SUCCESS", "result": 1, "task_id": "from-celery"}')
    foreign = result_dir / "notes.txt"
    foreign.write_text("not a result")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(foreign, (hour_ago, hour_ago))
    keep_forever = resultstore.connect(f"file://{result_dir}", result_expires=None)
    assert keep_forever.cleanup() == 0 and old.exists()
    daily = resultstore.connect(f"file://{result_dir}", result_expires=86400)
    assert daily.cleanup() == 0 and old.exists()
    ten_minutes = resultstore.connect(f"file://{result_dir}", result_expires=600)
    assert ten_minutes.cleanup() == 1
    assert not old.exists() and foreign.exists()


def test_cleanup_removes_stale_tmp_and_finished_chords(make_file_backend: MakeBackend,
                                                       result_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    backend = make_file_backend()
    backend.mark_as_done("t", 1)
    stale = result_dir / ".resultstore" / "tmp" / "crashed-writer"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    backend.set_chord_size("g", 1)
    assert backend.chord_part_return("g", "p", 0, states.SUCCESS, 1) is not None
    backend.chord_done("g")
    chord_dir = result_dir / ".resultstore" / "chords" / "celery-taskset-meta-g"
    assert sorted(os.listdir(chord_dir)) == ["claim", "expires"]
    backend.cleanup()
    assert not stale.exists() and chord_dir.exists()  # done marker kept 300 s, as Celery
    monkeypatch.setattr(time, "time", lambda: os.stat(chord_dir / "expires").st_mtime + 1)
    backend.cleanup()
    assert not chord_dir.exists()


def test_late_duplicate_after_done_changes_nothing(make_file_backend: MakeBackend) -> None:
    backend = make_file_backend()
    backend.set_chord_size("g", 2)
    backend.chord_part_return("g", "a", 0, states.SUCCESS, 1)
    assert backend.chord_part_return("g", "b", 1, states.SUCCESS, 2) is not None
    backend.chord_done("g")
    assert backend.chord_part_return("g", "b", 1, states.SUCCESS, 2) is None
    assert backend.chord_part_return("g", "c", 2, states.SUCCESS, 3) is None


def test_redelivered_part_completes_after_a_crash_before_claim(result_dir: Path) -> None:
    store = FileStore.from_url(f"file://{result_dir}", Settings())
    store.chord_set_size("G", 2, None)
    store.chord_add("G", "a", 0, b"1", None)
    (result_dir / ".resultstore" / "chords" / "G" / "parts" / "m-b").write_bytes(b"1:1\n2")
    progress = store.chord_add("G", "b", 1, b"2", None)  # redelivery of the crashed part
    assert (progress.count, progress.size, progress.complete) == (2, 2, True)
    assert store.chord_parts("G") == [b"1", b"2"]


def test_unordered_parts_keep_arrival_order_and_grow(result_dir: Path) -> None:
    store = FileStore.from_url(f"file://{result_dir}", Settings())
    store.chord_set_size("G", 2, 60)
    store.chord_grow("G", 1, 60)
    assert not store.chord_add("G", "x", None, b"first", 60).complete
    assert not store.chord_add("G", "y", None, b"second", 60).complete
    progress = store.chord_add("G", "z", None, b"third", 60)
    assert (progress.count, progress.size, progress.complete) == (3, 3, True)
    assert store.chord_parts("G") == [b"first", b"second", b"third"]


def test_incr_and_guarded_set(result_dir: Path) -> None:
    store = FileStore.from_url(f"file://{result_dir}", Settings())
    assert [store.incr("chord-unlock-c", 60) for _ in range(3)] == [1, 2, 3]
    assert store.set_unless_prefix("k", b"SUCCESS:1", None, b"SUCCESS")
    assert not store.set_unless_prefix("k", b"FAILURE", None, b"SUCCESS")
    assert store.get("k") == b"SUCCESS:1"


def test_scan_skips_hidden_and_foreign_files(make_file_backend: MakeBackend,
                                             result_dir: Path) -> None:
    backend = make_file_backend()
    ids = {str(uuid.uuid4()) for _ in range(3)}
    for task_id in ids:
        backend.mark_as_done(task_id, 0)
    backend.save_group("g", [["g", None], []])
    (result_dir / ".fs-backend-probe").write_bytes(b"x")  # Celery's directory test file
    (result_dir / "celery-task-meta-dir").mkdir()
    assert set(backend.task_ids()) == ids


def test_side_channel_removed_while_running_is_recreated(make_file_backend: MakeBackend,
                                                          result_dir: Path) -> None:
    import shutil

    backend = make_file_backend()
    backend.mark_as_done("before", 1)
    shutil.rmtree(result_dir / ".resultstore")
    backend.mark_as_done("after", 2)
    backend.forget("before")
    assert backend.get_task_meta("after")["result"] == 2
    assert backend.get_task_meta("before")["status"] == states.PENDING


def test_repr_and_uri(result_dir: Path) -> None:
    backend = resultstore.connect(f"file://{result_dir}?fsync=0")
    assert backend.as_uri() == f"file://{result_dir}"
    assert repr(backend) == f"<ResultBackend file://{result_dir}>"
