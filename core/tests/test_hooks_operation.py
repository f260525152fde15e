"""``resultstore_operation`` and ``resultstore_chord_completed``: what core reports, and that it
reports nothing (not even a hook call) while no plugin listens."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pluggy
import pytest

import resultstore
from resultstore import states
from resultstore.hooks import HookSpecs, has_listeners, hookimpl, plugin_manager
from resultstore.waiting import waiter


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, str]] = []
        self.chords: list[tuple[str, int]] = []

    @hookimpl
    def resultstore_operation(self, backend: Any, operation: str, task_id: str | None) -> Any:
        @contextmanager
        def observed() -> Iterator[None]:
            self.events.append((operation, task_id, "enter"))
            try:
                yield
            except BaseException as exc:
                self.events.append((operation, task_id, type(exc).__name__))
                raise
            self.events.append((operation, task_id, "exit"))
        return observed()

    @hookimpl
    def resultstore_chord_completed(self, backend: Any, group_id: str, size: int) -> None:
        self.chords.append((group_id, size))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    plugin_manager().register(rec)
    try:
        yield rec
    finally:
        plugin_manager().unregister(rec)


def test_operations_are_wrapped(recorder: Recorder) -> None:
    backend = resultstore.connect(f"memory://{uuid.uuid4().hex}")
    backend.mark_as_done("t", 1)
    backend.get_task_meta("t", cache=False)
    backend.save_group("g", ("g", [(("t", None), None)]))
    assert recorder.events == [
        ("store_result", "t", "enter"), ("store_result", "t", "exit"),
        ("get_task_meta", "t", "enter"), ("get_task_meta", "t", "exit"),
        ("save_group", None, "enter"), ("save_group", None, "exit"),
    ]


def test_wait_is_one_operation_around_its_reads(recorder: Recorder) -> None:
    backend = resultstore.connect(f"memory://{uuid.uuid4().hex}")
    done = threading.Timer(0.05, backend.mark_as_done, ("w", 2))
    done.start()
    assert waiter(backend).wait("w", timeout=10)["result"] == 2
    done.join()
    waits = [e for e in recorder.events if e[0] == "wait"]
    assert waits == [("wait", "w", "enter"), ("wait", "w", "exit")]


def test_chord_completion_reported_once(recorder: Recorder) -> None:
    backend = resultstore.connect(f"memory://{uuid.uuid4().hex}")
    backend.set_chord_size("g", 2)
    backend.chord_part_return("g", "a", 0, states.SUCCESS, 1)
    backend.chord_part_return("g", "b", 1, states.SUCCESS, 2)
    backend.chord_part_return("g", "b", 1, states.SUCCESS, 2)
    assert recorder.chords == [("g", 2)]


def test_nobody_listening_costs_no_hook_call(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = pluggy.PluginManager("resultstore")
    manager.add_hookspecs(HookSpecs)
    assert not has_listeners(manager, "resultstore_operation")
    monkeypatch.setattr("resultstore.backend.plugin_manager", lambda: manager)
    monkeypatch.setattr("resultstore.waiting.observing", None)  # any call would raise
    monkeypatch.setattr("resultstore.backend.observing", None)
    backend = resultstore.connect(f"memory://{uuid.uuid4().hex}")
    assert backend._observe is False
    backend.mark_as_done("t", 1)
    assert backend.get_task_meta("t", cache=False)["result"] == 1
    assert waiter(backend).wait("t", timeout=5)["result"] == 1
