"""The Celery app and tasks shared by the rpc test worker and the tests (same names both sides)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from celery import Celery

#: Backend names: ours comes from the ``rpc`` entry point, Celery's is named by path.
OURS = "rpc://"
CELERYS = "celery.backends.rpc:RPCBackend"


class RpcBoom(Exception):
    """A custom exception raised by a task and rebuilt with its type on the client."""


def make_app(config: dict[str, Any], name: str = "rpc_tasks") -> Celery:
    app = Celery(name, set_as_current=False)
    app.conf.update(
        task_track_started=True,
        result_chord_retry_interval=0.1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_prefetch_multiplier=1,
    )
    app.conf.update(config)
    register(app)
    return app


def register(app: Celery) -> None:
    @app.task(name="rpc.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="rpc.tsum", shared=False)
    def tsum(values: list[int]) -> int:
        return sum(values)

    @app.task(name="rpc.boom", shared=False)
    def boom(message: str, code: int) -> None:
        raise RpcBoom(message, code)

    @app.task(name="rpc.nap", shared=False)
    def nap(seconds: float, value: Any = None) -> Any:
        time.sleep(seconds)
        return value

    @app.task(name="rpc.flaky", bind=True, shared=False, default_retry_delay=0.05)
    def flaky(self: Any, failures: int) -> int:
        if self.request.retries < failures:
            raise self.retry(exc=RpcBoom("try again", self.request.retries))
        return self.request.retries

    @app.task(name="rpc.add_to_all", shared=False)
    def add_to_all(nums: list[Any], val: Any) -> list[Any]:
        return [num + val for num in nums]

    @app.task(name="rpc.add_replaced", bind=True, shared=False)
    def add_replaced(self: Any, x: int, y: int) -> None:
        raise self.replace(add.s(x, y))

    @app.task(name="rpc.replaced_by_chain", bind=True, shared=False)
    def replaced_by_chain(self: Any, x: int, y: int) -> None:
        raise self.replace(add.s(x, y) | add.s(100))

    @app.task(name="rpc.replaced_by_group", bind=True, shared=False)
    def replaced_by_group(self: Any, x: int, y: int) -> None:
        from celery import group

        raise self.replace(group(add.s(x, y), add.s(y, y)))

    @app.task(name="rpc.tsum_replaced", bind=True, shared=False)
    def tsum_replaced(self: Any, values: list[int]) -> None:
        raise self.replace(tsum.s(values))

    @app.task(name="rpc.record", shared=False)
    def record(path: str, text: str = "called") -> None:
        """An errback (immutable signature): leaves a file the test can see."""
        Path(path).write_text(text)
