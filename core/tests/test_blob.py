"""The shared object-store base (``resultstore.blob``) over an in-process object API.

The real stores (S3, GCS, Azure Blob) run the blob kit against their emulators in
their plugins; this module pins the base's own logic: URL options, the
conditional-write probe (honoured, ignored, unreachable), cleanup candidates,
retry classification, per-process clients, and the conformance kit on top.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import resultstore
from resultstore.blob import Blob, BlobInfo, BlobStore, PerProcess, PreconditionFailed, bucket_url_options
from resultstore.config import Settings
from resultstore.errors import BackendError, ImproperlyConfigured
from resultstore.spec import Capability
from resultstore.testing import ConformanceSuite

_BUCKETS: dict[str, dict[str, tuple[bytes, int, float, float | None]]] = {}
_LOCK = threading.Lock()
_VERSIONS = itertools.count(1)


class DictBlobs(BlobStore):
    """Objects in a process-global dict: ``(data, version, modified, expires)``.

    ``honour`` False behaves like an emulator that ignores write conditions;
    ``list_metadata`` False like S3 (listings without expiry, ``head_blob`` needed).
    """

    settings_prefix = "dictblobs"

    def __init__(self, bucket: str, settings: Settings | None = None, *, honour: bool = True,
                 list_metadata: bool = True) -> None:
        super().__init__("base/", settings or Settings())
        self.bucket = bucket
        self.honour = honour
        self.list_metadata = list_metadata
        self.heads: list[str] = []
        with _LOCK:
            _BUCKETS.setdefault(bucket, {})
        self.configure_conditions()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DictBlobs:
        return cls(url.partition("://")[2] or "default", settings)

    @property
    def objects(self) -> dict[str, tuple[bytes, int, float, float | None]]:
        return _BUCKETS[self.bucket]

    def probe_key(self) -> Any:
        return (type(self), self.bucket, self.honour)

    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        with _LOCK:
            item = self.objects.get(name)
        return None if item is None else Blob(item[0], str(item[1]), item[3])

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        with _LOCK:
            current = self.objects.get(name)
            if self.honour and if_absent and current is not None:
                raise PreconditionFailed(name)
            if self.honour and if_version is not None and (current is None or str(current[1]) != if_version):
                raise PreconditionFailed(name)
            version = next(_VERSIONS)
            self.objects[name] = (bytes(data), version, time.time(), expires)
            return str(version)

    def delete_blob(self, name: str) -> None:
        with _LOCK:
            self.objects.pop(name, None)

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        with _LOCK:
            items = sorted((n, i) for n, i in self.objects.items() if n.startswith(prefix))
        for name, (_, _, modified, expires) in items:
            yield BlobInfo(name, modified, expires if self.list_metadata else None,
                           expiry_known=self.list_metadata)

    def head_blob(self, name: str) -> BlobInfo | None:
        self.heads.append(name)
        with _LOCK:
            item = self.objects.get(name)
        return None if item is None else BlobInfo(name, item[2], item[3])

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, OSError) and "throttled" in str(exc)


class TestBlobBaseConformance(ConformanceSuite):
    """The whole kit passes on the base (chords by conditional writes, cleanup, scan)."""

    @pytest.fixture
    def make_backend(self) -> Callable[..., resultstore.ResultBackend]:
        bucket = f"kit-{uuid.uuid4()}"
        return lambda **settings: resultstore.ResultBackend(DictBlobs(bucket, Settings(settings)),
                                                            Settings(settings))


def test_bucket_url_options_as_celerys_gs_form() -> None:
    assert bucket_url_options("gs://bkt/a/b/?gcs_project=p", "gcs") == {
        "gcs_bucket": "bkt", "gcs_base_path": "a/b/", "gcs_project": "p"}
    assert bucket_url_options("s3://", "s3") == {}
    with pytest.raises(ImproperlyConfigured, match="carry no credentials"):
        bucket_url_options("s3://key:secret@bkt/", "s3")
    with pytest.raises(ImproperlyConfigured, match="Unknown gs:// URL option 'project'"):
        bucket_url_options("gs://bkt?project=p", "gcs")


def test_probe_declares_chords_only_when_conditions_hold() -> None:
    honoured = DictBlobs(f"p-{uuid.uuid4()}")
    ignored = DictBlobs(f"p-{uuid.uuid4()}", honour=False)
    assert {Capability.CHORD, Capability.GUARDED_SET} <= honoured.capabilities
    assert Capability.CHORD not in ignored.capabilities and Capability.SCAN in ignored.capabilities
    assert not resultstore.ResultBackend(ignored).supports_native_chords
    assert list(honoured.list_blobs("")) == [] and list(ignored.list_blobs("")) == []  # probe cleaned up
    forced = DictBlobs(f"p-{uuid.uuid4()}", Settings(dictblobs_conditional_writes=True), honour=False)
    assert Capability.CHORD in forced.capabilities


class AssumedBlobs(DictBlobs):
    """A storage whose API guarantees conditional writes, with push of its own (as CouchDB)."""

    extra_capabilities = frozenset({Capability.SUBSCRIBE})
    assume_conditions = True


def test_assumed_conditions_skip_the_probe_and_extras_are_declared() -> None:
    store = AssumedBlobs(f"p-{uuid.uuid4()}", honour=False)  # would fail a probe: none is made
    assert {Capability.CHORD, Capability.GUARDED_SET, Capability.SUBSCRIBE} <= store.capabilities
    assert store.declared_capabilities() == (store.capabilities, frozenset())
    off = AssumedBlobs(f"p-{uuid.uuid4()}", Settings(dictblobs_conditional_writes=False))
    assert Capability.CHORD not in off.capabilities and Capability.SUBSCRIBE in off.capabilities
    always, conditional = DictBlobs.declared_capabilities()
    assert Capability.SCAN in always and conditional == {Capability.CHORD, Capability.GUARDED_SET}


def test_unreachable_storage_fails_the_probe_clearly() -> None:
    class Down(DictBlobs):
        def write_blob(self, name: str, data: bytes, **kwargs: Any) -> str | None:
            raise ConnectionRefusedError("connection refused")

    with pytest.raises(BackendError, match=r"cannot probe conditional writes.*conditional_writes"):
        Down(f"down-{uuid.uuid4()}")
    assert Capability.SCAN in Down(f"down-{uuid.uuid4()}", Settings(dictblobs_conditional_writes=False)
                                   ).capabilities


def test_cleanup_asks_metadata_only_for_old_enough_objects() -> None:
    store = DictBlobs(f"c-{uuid.uuid4()}", Settings(result_expires=1), list_metadata=False)
    store.set("celery-task-meta-old", b"{}", 1)
    store.objects["base/celery-task-meta-celerys"] = (b"{}", 0, time.time() - 5, None)  # no expiry
    store.objects["base/notes.txt"] = (b"x", 0, time.time() - 5, None)  # not a result
    store.set("celery-task-meta-young", b"{}", 3600)
    # only Celery's 5 s old object is a candidate (and expired: result_expires after its write)
    assert store.cleanup() == 1 and store.heads == ["base/celery-task-meta-celerys"]
    time.sleep(1.1)
    assert store.cleanup() == 1
    assert sorted(store.heads[1:]) == ["base/celery-task-meta-old", "base/celery-task-meta-young"]
    assert sorted(store.objects) == ["base/celery-task-meta-young", "base/notes.txt"]


def test_expired_objects_read_as_absent_and_are_not_scanned() -> None:
    store = DictBlobs(f"e-{uuid.uuid4()}")
    store.set("celery-task-meta-a", b"1", 0.05)
    store.set("celery-task-meta-b", b"2", None)
    time.sleep(0.1)
    assert store.get("celery-task-meta-a") is None and store.mget(
        ["celery-task-meta-a", "celery-task-meta-b"]) == [None, b"2"]
    assert list(store.scan("celery-task-meta-")) == ["celery-task-meta-b"]


def test_retry_classification_walks_the_exception_chain() -> None:
    store = DictBlobs(f"r-{uuid.uuid4()}")
    try:
        try:
            raise ConnectionResetError("peer reset")
        except OSError as inner:
            raise RuntimeError("sdk wrapper") from inner
    except RuntimeError as outer:
        wrapped = outer
    assert store.exception_safe_to_retry(wrapped)
    assert store.exception_safe_to_retry(TimeoutError())
    assert store.exception_safe_to_retry(OSError("throttled by storage"))
    assert not store.exception_safe_to_retry(PermissionError("denied"))
    assert not store.exception_safe_to_retry(ValueError("bad"))


def test_contention_is_bounded_not_endless() -> None:
    class AlwaysConflicting(DictBlobs):
        def write_blob(self, name: str, data: bytes, **kwargs: Any) -> str | None:
            if kwargs.get("if_absent") or kwargs.get("if_version"):
                super().write_blob(name, b"someone else", expires=None)
                raise PreconditionFailed(name)
            return super().write_blob(name, data, **kwargs)

    store = AlwaysConflicting(f"x-{uuid.uuid4()}", Settings(dictblobs_conditional_writes=True))
    with pytest.raises(BackendError, match="contention"):
        store.set_unless_prefix("celery-task-meta-x", b"v", None, b'{"status": "SUCCESS"')


def _child_value(per_process: PerProcess[object], parent_id: int, out: Any) -> None:
    out.put(id(per_process.get()) != parent_id)


def test_per_process_values_are_rebuilt_after_fork() -> None:
    built: list[int] = []
    per_process: PerProcess[object] = PerProcess(lambda: built.append(1) or object())
    first = per_process.get()
    assert per_process.get() is first and per_process.peek() is first
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child_value, args=(per_process, id(first), out))
    child.start()
    assert out.get(timeout=10) is True
    child.join(10)
    assert child.exitcode == 0 and len(built) == 1
