"""Issue 14 item 7: a malformed stored record is one typed error on every read path."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

import resultstore
from resultstore.cli import main
from resultstore.client import AsyncResult, GroupResult
from resultstore.errors import CorruptResultError, DecodeError

CORRUPT = {
    "success-without-result": {"status": "SUCCESS"},
    "status-is-a-list": {"status": ["SUCCESS"], "result": 1},
    "no-status": {"result": 1},
    "not-a-dict": [1, 2, 3],
    "traceback-is-a-number": {"status": "FAILURE", "result": None, "traceback": 5},
    "children-is-a-string": {"status": "SUCCESS", "result": 1, "children": "abc"},
    "failure-with-a-number": {"status": "FAILURE", "result": 5},
    "failure-without-exc-type": {"status": "FAILURE", "result": {"exc_message": []}},
}


@pytest.fixture(params=sorted(CORRUPT))
def corrupt(request: pytest.FixtureRequest) -> tuple[resultstore.ResultBackend, str, str]:
    url = f"memory://corrupt-{uuid.uuid4()}"
    backend = resultstore.connect(url)
    task_id = f"t-{request.param}"
    backend.store.set(backend.keys.task(task_id), json.dumps(CORRUPT[request.param]).encode(), None)
    return backend, task_id, url


def test_single_read(corrupt: tuple[resultstore.ResultBackend, str, str]) -> None:
    backend, task_id, _ = corrupt
    with pytest.raises(CorruptResultError, match=f"celery-task-meta-{task_id}"):
        backend.get_task_meta(task_id)
    with pytest.raises(CorruptResultError):
        asyncio.run(backend.aget_task_meta(task_id))


def test_batched_read(corrupt: tuple[resultstore.ResultBackend, str, str]) -> None:
    backend, task_id, _ = corrupt
    with pytest.raises(CorruptResultError):
        backend.get_many(["fine", task_id])
    with pytest.raises(CorruptResultError):
        asyncio.run(backend.aget_many(["fine", task_id]))


def test_waiting_read_raises_not_hangs(corrupt: tuple[resultstore.ResultBackend, str, str]) -> None:
    backend, task_id, _ = corrupt
    with pytest.raises(CorruptResultError):
        AsyncResult(task_id, backend=backend).get(timeout=10)
    with pytest.raises(CorruptResultError):
        asyncio.run(AsyncResult(task_id, backend=backend).aget(timeout=10))
    with pytest.raises(CorruptResultError):
        GroupResult("g", [AsyncResult("fine", backend=backend),
                          AsyncResult(task_id, backend=backend)], backend=backend).join(timeout=10)


def test_cli_get_reports_it(corrupt: tuple[resultstore.ResultBackend, str, str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    _, task_id, url = corrupt
    code = main(["get", url, task_id])
    captured = capsys.readouterr()
    text = " ".join((captured.err + captured.out).split())
    assert code == 1 and "Traceback" not in text
    assert "CorruptResultError" in text and f"celery-task-meta-{task_id}" in text


def test_corrupt_result_error_is_a_decode_error() -> None:
    assert issubclass(CorruptResultError, DecodeError) and issubclass(CorruptResultError, ValueError)


@pytest.mark.parametrize("group", [b"[1, 2]", b'{"no": "result"}', b'"text"'])
def test_corrupt_group_meta(group: bytes) -> None:
    backend = resultstore.connect("memory://")
    backend.store.set(backend.keys.group("g"), group, None)
    with pytest.raises(CorruptResultError):
        backend.get_group_meta("g")
    with pytest.raises(DecodeError):
        GroupResult.restore("g", backend)


@pytest.mark.parametrize("part", [b"[1, 2]", b'{"a": 1}', b'[1, 5, "SUCCESS", 1]',
                                  b'[1, "t", "FAILURE", 7]'])
def test_corrupt_chord_part(part: bytes) -> None:
    backend = resultstore.connect("memory://")
    assert backend.chords is not None
    with pytest.raises(CorruptResultError):
        backend.chords.decode_part(part, group_id="g")
