"""Canvas shapes with chords and ``Task.replace``, run by the worker tests and the bench.

Each entry is ``name -> (run, expected)``: ``run()`` sends the canvas through
``app`` and returns what ``get()`` gave (or, for the failing shapes, the
exception type and whether the errback ran).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery, chain, chord, group

__all__ = ["shapes"]


def shapes(app: Celery, scratch: Path,
           timeout: float = 30) -> dict[str, tuple[Callable[[], Any], Any]]:
    """``name -> (run, expected)``; ``run`` sends the canvas and returns ``get()``'s value."""
    s = app.signature

    def add(*args: Any) -> Any:
        return s("rpc.add", args)

    def add_to_all(*args: Any) -> Any:
        return s("rpc.add_to_all", args)

    def tsum(*args: Any) -> Any:
        return s("rpc.tsum", args)

    def replaced(*args: Any) -> Any:
        return s("rpc.add_replaced", args)

    def failing(header: list[Any], body: Any, name: str) -> Callable[[], str]:
        """The error ``get()`` raises, and whether the body's errback ran."""
        marker = scratch / f"errback-{name}"

        def run() -> str:
            marker.unlink(missing_ok=True)
            result = chord(header, body.on_error(s("rpc.record", (str(marker),), immutable=True)))()
            try:
                result.get(timeout=timeout)
            except Exception as exc:
                return f"{type(exc).__name__}, errback {'ran' if _waited(marker) else 'missing'}"
            return "no error"

        return run

    return {
        "chord, 6 parts": (lambda: chord([add(i, i) for i in range(6)])(tsum()).get(timeout), 30),
        "single-task header": (lambda: chord([add(2, 5)], body=add_to_all(9))().get(timeout), [16]),
        "single-task header as chain": (
            lambda: (group([add(2, 5)]) | add_to_all(9))().get(timeout), [16]),
        "empty header": (lambda: chord([], body=add_to_all(9))().get(timeout), []),
        "nested chords": (lambda: chord([chord([add(1, 2), add(3, 4)], add([5])),
                                         chord([add(6, 7)], add([10]))],
                                        add_to_all(["A"]))().get(timeout),
                          [[3, 7, 5, "A"], [13, 10, "A"]]),
        "Task.replace in header": (
            lambda: chord([chord([add(1, 2), replaced(3, 4)], add_to_all(5)) | tsum(),
                           chord([replaced(6, 7), add(0, 0)], add_to_all(8)) | tsum()],
                          tsum())().get(timeout), 49),
        "Task.replace in body": (
            lambda: chord([add(1, 1), add(2, 2)], s("rpc.tsum_replaced"))().get(timeout), 6),
        "chain around chord": (
            lambda: chain(add(1, 1), group(s("rpc.add", (i, i), immutable=True) for i in range(3)), tsum(),
                          add(10))().get(timeout), 16),
        "group of chords": (
            lambda: group(chord([add(i, i) for i in range(3)], tsum()),
                          chord([add(i, 1) for i in range(4)], tsum()))().get(timeout), [6, 10]),
        "failing header, body errback": (
            failing([add(1, 1), s("rpc.boom", ("header", 1))], tsum(), "header"),
            "RpcBoom, errback ran"),
        "failing body with errback": (
            failing([add(1, 1), add(2, 2)], s("rpc.boom", ("body", 2), immutable=True), "body"),
            "RpcBoom, errback ran"),
        "Task.replace, no chord": (lambda: s("rpc.add_replaced", (1, 2)).delay().get(timeout), 3),
        "Task.replace by a chain": (
            lambda: s("rpc.replaced_by_chain", (1, 2)).delay().get(timeout), 103),
        "Task.replace by a group": (
            lambda: s("rpc.replaced_by_group", (1, 2)).delay().get(timeout), [3, 4]),
        "chord header replaced by a chain": (
            lambda: chord([s("rpc.replaced_by_chain", (1, 2)), add(1, 1)], tsum())().get(timeout),
            105),
        "chord body replaced by a group": (
            lambda: chord([add(1, 1), add(2, 2)], s("rpc.replaced_by_group", ([3],)))().get(timeout),
            [[2, 4, 3], [3, 3]]),
    }


def _waited(path: Path, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
