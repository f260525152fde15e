"""Retries with exponential backoff, full jitter and a cap (Celery's settings).

Only exceptions the store calls transient (``exception_safe_to_retry``) are
retried, and only when ``result_backend_always_retry`` is on; a TLS
certificate that does not verify never is (:mod:`resultstore.tls`).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import BackendError, ResultStoreError
from .tls import GENERIC_CERTIFICATE_SETTINGS, is_certificate_error

__all__ = ["RetryPolicy", "backoff_interval"]

T = TypeVar("T")


def backoff_interval(base_ms: float, retries: int, max_ms: float, full_jitter: bool = True,
                     rng: Callable[[], float] = random.random) -> float:
    """Seconds to sleep before retry number ``retries`` (0-based), as Celery.

    ``min(max_ms, base_ms * 2**retries)``, then uniformly jittered in ``[0, that]``.
    """
    ceiling = min(max_ms, base_ms * (2 ** min(retries, 62)))
    if full_jitter:
        ceiling = math.floor(rng() * (ceiling + 1))
    return float(max(0.0, ceiling)) / 1000.0


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry a failing store operation."""

    always_retry: bool = False
    max_retries: float = math.inf
    base_sleep_ms: float = 10
    max_sleep_ms: float = 10000
    #: Named when a TLS certificate does not verify (the store's ``certificate_settings``).
    certificate_settings: str = GENERIC_CERTIFICATE_SETTINGS

    @classmethod
    def from_settings(cls, settings: Any, certificate_settings: str | None = None
                      ) -> RetryPolicy:
        return cls(
            always_retry=bool(settings["result_backend_always_retry"]),
            max_retries=float(settings["result_backend_max_retries"]),
            base_sleep_ms=float(settings["result_backend_base_sleep_between_retries_ms"]),
            max_sleep_ms=float(settings["result_backend_max_sleep_between_retries_ms"]),
            certificate_settings=certificate_settings or GENERIC_CERTIFICATE_SETTINGS,
        )

    def _next_delay(self, exc: Exception, attempt: int, safe: Callable[[BaseException], bool],
                    max_retries: float | None) -> float | None:
        """Delay before the next attempt, or ``None`` to give up now.

        A TLS certificate that does not verify is never retried (it fails the
        same way every time), whatever the store calls its wrapper error.
        """
        if isinstance(exc, ResultStoreError) or not self.always_retry or not safe(exc):
            return None
        if is_certificate_error(exc):
            return None
        limit = self.max_retries if max_retries is None else max_retries
        if attempt >= limit:
            return None
        return backoff_interval(self.base_sleep_ms, attempt, self.max_sleep_ms)

    def call(self, operation: str, func: Callable[..., T], *args: Any,
             safe: Callable[[BaseException], bool], error: type[BackendError],
             on_retry: Callable[[str, int, float, BaseException], None] | None = None,
             max_retries: float | None = None, task_id: str | None = None,
             state: str | None = None, **kwargs: Any) -> T:
        """Run ``func``; retry transient failures; wrap the final failure in ``error``."""
        attempt = 0
        while True:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                delay = self._next_delay(exc, attempt, safe, max_retries)
                if delay is None:
                    raise self._final(operation, exc, safe, error, attempt, task_id, state) from exc
                attempt += 1
                if on_retry is not None:
                    on_retry(operation, attempt, delay, exc)
                time.sleep(delay)

    async def acall(self, operation: str, func: Callable[..., Awaitable[T]], *args: Any,
                    safe: Callable[[BaseException], bool], error: type[BackendError],
                    on_retry: Callable[[str, int, float, BaseException], None] | None = None,
                    task_id: str | None = None, **kwargs: Any) -> T:
        """The asyncio twin of :meth:`call` (sleeps without blocking the loop)."""
        attempt = 0
        while True:
            try:
                return await func(*args, **kwargs)
            except Exception as exc:
                delay = self._next_delay(exc, attempt, safe, None)
                if delay is None:
                    raise self._final(operation, exc, safe, error, attempt, task_id, None) from exc
                attempt += 1
                if on_retry is not None:
                    on_retry(operation, attempt, delay, exc)
                await asyncio.sleep(delay)

    def _final(self, operation: str, exc: Exception, safe: Callable[[BaseException], bool],
               error: type[BackendError], attempt: int, task_id: str | None,
               state: str | None) -> Exception:
        if isinstance(exc, ResultStoreError):
            return exc
        if is_certificate_error(exc):
            hint = ("TLS certificate verification failed, which retrying cannot fix; check "
                    f"{self.certificate_settings}")
        elif attempt:
            hint = f"gave up after {attempt} retries"
        elif safe(exc) and not self.always_retry:
            hint = "transient error; set result_backend_always_retry=True to retry it"
        else:
            hint = "not retried: the store does not consider this error transient"
        return error(f"{operation} failed: {type(exc).__name__}: {exc} ({hint})",
                     task_id=task_id, state=state)
