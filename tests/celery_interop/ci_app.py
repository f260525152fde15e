"""The Celery app and tasks shared by the interop tests' client and worker processes.

``make_app(config)`` builds an app from a plain dict (the worker process gets
the same dict as JSON in ``RS_CI_CONFIG``, see ``ci_worker.py``).  Tasks that
record side effects (errbacks, attempts) write to Redis under ``ci-*`` keys
on ``ci_redis_url``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import ci_fs_transport  # noqa: F401 - registers the cifs:// broker alias
import redis
from celery import Celery


class InteropError(Exception):
    """A custom exception the tests expect back with its own type and args."""


def _redis(app: Celery) -> redis.Redis:
    return redis.Redis.from_url(app.conf.ci_redis_url)


def make_app(config: dict[str, Any]) -> Celery:
    """A fresh app configured from ``config`` (incl. ``override_backends``)."""
    app = Celery("ci_app", set_as_current=False)
    app.config_from_object(dict(config))

    @app.task(name="ci.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="ci.tsum", shared=False)
    def tsum(values: list[Any]) -> int:
        return sum(_flatten(values))

    @app.task(name="ci.identity", shared=False)
    def identity(value: Any) -> Any:
        return value

    @app.task(name="ci.fail", shared=False)
    def fail(message: str = "boom", code: int = 1) -> None:
        raise InteropError(message, code)

    @app.task(name="ci.sleep", shared=False)
    def sleep(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @app.task(name="ci.flaky", shared=False, bind=True, max_retries=5, default_retry_delay=0.05)
    def flaky(self: Any, failures: int) -> int:
        if self.request.retries < failures:
            raise self.retry(exc=InteropError("not yet", self.request.retries))
        return self.request.retries

    @app.task(name="ci.always_retry", shared=False, bind=True, max_retries=2, default_retry_delay=0.05)
    def always_retry(self: Any) -> None:
        raise self.retry(exc=InteropError("never works"))

    @app.task(name="ci.spawn", shared=False, bind=True)
    def spawn(self: Any, n: int) -> str:
        for i in range(n):
            add.delay(i, i)
        return "spawned"

    @app.task(name="ci.progress", shared=False, bind=True)
    def progress(self: Any) -> str:
        self.update_state(state="PROGRESS", meta={"done": 1})
        time.sleep(0.3)
        return "finished"

    @app.task(name="ci.ignored", shared=False, ignore_result=True)
    def ignored(x: int) -> int:
        _redis(app).set(f"ci-ignored-{x}", "ran", ex=300)
        return x

    @app.task(name="ci.record", shared=False)
    def record(values: list[Any], tag: str) -> int:
        """A chord body that counts its own runs (exactly-once checks)."""
        _redis(app).incr(f"ci-body-{tag}")
        return sum(_flatten(values))

    @app.task(name="ci.grow", bind=True, shared=False)
    def grow(self: Any, n: int) -> int:
        """A chord header task that adds one more part to its chord."""
        self.add_to_chord(add.s(n, n))
        return n

    @app.task(name="ci.limited", shared=False, time_limit=1)
    def limited() -> None:
        time.sleep(30)

    @app.task(name="ci.die", shared=False)
    def die() -> None:
        os._exit(1)

    @app.task(name="ci.on_error", shared=False)
    def on_error(request: Any, exc: BaseException, traceback: Any) -> None:
        """New-style errback: runs in the failing task's worker."""
        _redis(app).rpush(f"ci-errback-{request.id}", f"{type(exc).__name__}:{exc}")

    @app.task(name="ci.on_error_old", shared=False)
    def on_error_old(task_id: str) -> None:
        """Old-style errback: sent as a task with the failed task's id."""
        _redis(app).rpush(f"ci-errback-old-{task_id}", "called")

    return app


def _flatten(values: Any) -> list[int]:
    if isinstance(values, (list, tuple)):
        return [v for item in values for v in _flatten(item)]
    return [values]
