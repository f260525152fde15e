from __future__ import annotations

import pytest

import resultstore
from resultstore.errors import BackendGetMetaError, BackendStoreError
from resultstore.hooks import hookimpl
from resultstore.retry import backoff_interval
from resultstore.testing import FlakyStore


class Transient(ConnectionError):
    pass


def _backend(**settings):
    backend = resultstore.connect("memory://retry", **settings)
    backend.store.exception_safe_to_retry = lambda exc: isinstance(exc, Transient)  # type: ignore[method-assign]
    return backend


def test_backoff_is_capped_and_jittered():
    assert backoff_interval(10, 0, 10000, full_jitter=False) == 0.01
    assert backoff_interval(10, 20, 10000, full_jitter=False) == 10.0
    samples = {backoff_interval(10, 5, 10000) for _ in range(200)}
    assert min(samples) >= 0 and max(samples) <= 0.32 and len(samples) > 20


class _Retried:
    """Records ``resultstore_retried`` attempts while registered (a real hook plugin)."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    @hookimpl
    def resultstore_retried(self, operation, attempt, delay, exc):
        self.attempts.append(attempt)


def test_transient_errors_are_retried_when_enabled():
    backend = _backend(result_backend_always_retry=True, result_backend_base_sleep_between_retries_ms=1)
    recorder = _Retried()
    backend.hooks.register(recorder)
    try:
        flaky = FlakyStore(backend.store, "set_unless_prefix", Transient("reset"), failures=3)
        backend.mark_as_done("r1", 1)
        flaky.restore()
    finally:
        backend.hooks.unregister(recorder)
    assert backend.get_task_meta("r1")["result"] == 1
    assert recorder.attempts == [1, 2, 3]


def test_retries_exhausted_raise_typed_error():
    backend = _backend(result_backend_always_retry=True, result_backend_max_retries=2,
                       result_backend_base_sleep_between_retries_ms=1)
    FlakyStore(backend.store, "get", Transient("down"), failures=10)
    with pytest.raises(BackendGetMetaError, match="gave up after 2 retries") as info:
        backend.get_task_meta("r2")
    assert info.value.task_id == "r2"


def test_no_retry_when_disabled_says_how_to_enable():
    backend = _backend()
    FlakyStore(backend.store, "set_unless_prefix", Transient("down"), failures=1)
    with pytest.raises(BackendStoreError, match="result_backend_always_retry=True") as info:
        backend.mark_as_done("r3", 1)
    assert info.value.state == "SUCCESS" and isinstance(info.value.__cause__, Transient)


def test_non_transient_errors_are_not_retried():
    backend = _backend(result_backend_always_retry=True)
    flaky = FlakyStore(backend.store, "get", RuntimeError("bug"), failures=1)
    with pytest.raises(BackendGetMetaError, match="not retried"):
        backend.get_task_meta("r4")
    assert flaky.remaining == 0
