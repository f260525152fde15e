"""Tasks and canvases every backend under test must run with a real worker.

A test module subclasses :class:`CanvasScenarios` and provides module-scoped
fixtures ``app`` (client app; its worker is running), ``worker`` and
``backend_class`` (the class Celery must have loaded).
"""

from __future__ import annotations

import pickle
import time
from typing import Any

import pytest
import redis
from celery import chain, chord, group
from celery.exceptions import ChordError, TaskRevokedError, TimeoutError
from celery.result import AsyncResult, GroupResult
from ci_app import InteropError

#: Client-side polling interval and patience (results normally come in ms).
FAST = {"timeout": 30, "interval": 0.05}


def _task(app: Any, name: str) -> Any:
    return app.tasks[f"ci.{name}"]


def wait_state(result: AsyncResult, expected: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while result.state != expected:
        assert time.monotonic() < deadline, f"{result.id} stayed {result.state}, not {expected}"
        time.sleep(0.05)


def wait_list(client: redis.Redis, key: str, timeout: float = 15) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while not (values := client.lrange(key, 0, -1)):
        assert time.monotonic() < deadline, f"nothing recorded under {key}"
        time.sleep(0.05)
    return values


class CanvasScenarios:
    """The interop suite: simple tasks, failures, retries, revoke, canvases, groups."""

    #: False for stores whose chords cannot grow (``Task.add_to_chord`` refused).
    grows_chords = True

    @pytest.fixture(scope="class")
    @classmethod
    def rdb(cls, app: Any) -> Any:
        client = redis.Redis.from_url(app.conf.ci_redis_url)
        yield client
        client.close()

    # -- loading ------------------------------------------------------------
    def test_celery_loaded_our_class(self, app: Any, worker: Any, backend_class: type) -> None:
        assert type(app.backend) is backend_class
        assert f"results:     {app.backend.as_uri()}" in worker.log

    # -- simple tasks ---------------------------------------------------------
    def test_simple_task(self, app: Any) -> None:
        result = _task(app, "add").delay(2, 3)
        assert result.get(**FAST) == 5
        assert result.state == "SUCCESS"
        assert result.date_done is not None
        assert app.backend.get_task_meta(result.id)["task_id"] == result.id

    def test_many_tasks_in_flight(self, app: Any) -> None:
        results = [_task(app, "add").delay(i, 1) for i in range(20)]
        assert [r.get(**FAST) for r in results] == [i + 1 for i in range(20)]

    def test_custom_exception_comes_back_with_its_type(self, app: Any) -> None:
        result = _task(app, "fail").delay("bad input", 7)
        with pytest.raises(InteropError) as caught:
            result.get(**FAST)
        assert caught.value.args == ("bad input", 7)
        assert result.state == "FAILURE"
        assert "InteropError" in result.traceback
        assert isinstance(result.get(propagate=False, **FAST), InteropError)

    def test_retries_until_success(self, app: Any) -> None:
        assert _task(app, "flaky").delay(2).get(**FAST) == 2

    def test_retries_exhausted_raise_the_last_error(self, app: Any) -> None:
        result = _task(app, "always_retry").delay()
        with pytest.raises(InteropError, match="never works"):
            result.get(**FAST)

    def test_custom_state_with_meta(self, app: Any) -> None:
        result = _task(app, "progress").delay()
        wait_state(result, "PROGRESS")
        assert result.info == {"done": 1}
        assert result.get(**FAST) == "finished"

    def test_children_are_recorded(self, app: Any) -> None:
        result = _task(app, "spawn").delay(3)
        assert result.get(**FAST) == "spawned"
        children = result.children
        assert len(children) == 3
        assert sorted(c.get(**FAST) for c in children) == [0, 2, 4]

    def test_revoke_before_execution(self, app: Any) -> None:
        result = _task(app, "add").apply_async((1, 1), countdown=60)
        time.sleep(0.3)  # the worker holds it as a scheduled task
        result.revoke()
        wait_state(result, "REVOKED")
        with pytest.raises(TaskRevokedError):
            result.get(**FAST)

    def test_ignore_result_stores_nothing(self, app: Any, rdb: Any) -> None:
        marker = int(time.time() * 1000)
        result = _task(app, "ignored").delay(marker)
        assert result.get(**FAST) is None  # ignored: returns at once
        wait_list_or_key(rdb, f"ci-ignored-{marker}")
        probe = _task(app, "add").delay(0, 0)  # same queue, runs after it
        probe.get(**FAST)
        assert not app.backend.task_result_exists(result.id)
        assert app.AsyncResult(result.id).state == "PENDING"

    def test_forget(self, app: Any) -> None:
        result = _task(app, "add").delay(4, 4)
        assert result.get(**FAST) == 8
        result.forget()
        assert app.AsyncResult(result.id).state == "PENDING"

    def test_get_with_timeout_raises_celery_timeout(self, app: Any) -> None:
        result = _task(app, "add").apply_async((1, 1), countdown=30)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            result.get(timeout=0.3, interval=0.05)
        assert time.monotonic() - started < 2.5
        result.revoke()

    def test_pickled_result_still_reads(self, app: Any) -> None:
        result = _task(app, "add").delay(5, 5)
        result.get(**FAST)
        clone = pickle.loads(pickle.dumps(result))
        assert clone.get(**FAST) == 10

    # -- errbacks ---------------------------------------------------------------
    def test_errbacks_new_and_old_style(self, app: Any, rdb: Any) -> None:
        result = _task(app, "fail").apply_async(
            ("errback", 3), link_error=[_task(app, "on_error").s(), _task(app, "on_error_old").s()])
        with pytest.raises(InteropError):
            result.get(**FAST)
        assert wait_list(rdb, f"ci-errback-{result.id}") == [b"InteropError:('errback', 3)"]
        assert wait_list(rdb, f"ci-errback-old-{result.id}") == [b"called"]

    # -- chains -------------------------------------------------------------------
    def test_chain(self, app: Any) -> None:
        add = _task(app, "add")
        result = chain(add.s(1, 2), add.s(3), add.s(4))()
        assert result.get(**FAST) == 10
        assert result.parent.get(**FAST) == 6

    def test_chain_failure_fails_the_rest(self, app: Any) -> None:
        add, fail = _task(app, "add"), _task(app, "fail")
        result = chain(add.s(1, 1), fail.s(9), add.s(1))()
        with pytest.raises(InteropError):
            result.get(**FAST)
        wait_state(result, "FAILURE")
        assert isinstance(result.result, InteropError)

    # -- groups ---------------------------------------------------------------------
    def test_group_get_and_join_native(self, app: Any) -> None:
        add = _task(app, "add")
        result = group(add.s(i, i) for i in range(10))()
        assert result.get(**FAST) == [2 * i for i in range(10)]
        assert result.join_native(**FAST) == [2 * i for i in range(10)]
        assert result.supports_native_join

    def test_group_failure_propagates(self, app: Any) -> None:
        add, fail = _task(app, "add"), _task(app, "fail")
        result = group(add.s(1, 1), fail.s("in group", 2))()
        with pytest.raises(InteropError):
            result.join_native(**FAST)
        assert result.join_native(propagate=False, **FAST)[0] == 2

    def test_group_save_restore_delete(self, app: Any) -> None:
        add = _task(app, "add")
        result = group(add.s(i, 1) for i in range(4))()
        result.save()
        restored = GroupResult.restore(result.id, app=app)
        assert restored is not None
        assert [r.id for r in restored.results] == [r.id for r in result.results]
        assert restored.get(**FAST) == [1, 2, 3, 4]
        restored.delete()
        assert GroupResult.restore(result.id, app=app) is None

    # -- chords -----------------------------------------------------------------------
    def test_chord(self, app: Any) -> None:
        add, tsum = _task(app, "add"), _task(app, "tsum")
        assert chord(add.s(i, i) for i in range(8))(tsum.s()).get(**FAST) == 56

    def test_add_to_chord(self, app: Any) -> None:
        grow, add, tsum = _task(app, "grow"), _task(app, "add"), _task(app, "tsum")
        result = chord([grow.s(3), add.s(1, 1)], tsum.s())()
        if self.grows_chords:
            assert result.get(**FAST) == 3 + 2 + 6
        else:  # the header task fails with NotImplementedError, so does the chord
            with pytest.raises((NotImplementedError, ChordError)):
                result.get(**FAST)

    def test_chord_empty_header(self, app: Any) -> None:
        assert chord([], _task(app, "tsum").s())().get(**FAST) == 0

    def test_nested_chords(self, app: Any) -> None:
        add, tsum = _task(app, "add"), _task(app, "tsum")
        inner = chord([add.s(2, 2), add.s(3, 3)], tsum.s())
        assert chord([add.s(1, 1), inner], tsum.s())().get(**FAST) == 12

    def test_chord_of_chains(self, app: Any) -> None:
        add, tsum = _task(app, "add"), _task(app, "tsum")
        header = [chain(add.s(1, 1), add.s(1)), chain(add.s(2, 2), add.s(2))]
        assert chord(header, tsum.s())().get(**FAST) == 9

    def test_chord_with_group_in_header(self, app: Any) -> None:
        add, tsum = _task(app, "add"), _task(app, "tsum")
        header = [add.s(1, 1), group(add.s(2, 2), add.s(3, 3))]
        assert chord(header, tsum.s())().get(**FAST) == 12

    def test_chord_in_chain(self, app: Any) -> None:
        add, tsum = _task(app, "add"), _task(app, "tsum")
        result = chain(add.s(1, 1), chord([add.s(1), add.s(2)], tsum.s()), add.s(100))()
        assert result.get(**FAST) == 107

    def test_chord_header_failure_fails_body_and_calls_errbacks(self, app: Any, rdb: Any) -> None:
        add, fail, tsum = _task(app, "add"), _task(app, "fail"), _task(app, "tsum")
        body = tsum.s().on_error(_task(app, "on_error").s())
        result = chord([add.s(1, 1), fail.s("header", 5)], body)()
        # follow_parents: the header's own error if seen first, else the body's
        with pytest.raises((InteropError, ChordError)):
            result.get(**FAST)
        # "Dependency <id> raised ..." when counted; chord_unlock says only the repr (as Celery)
        with pytest.raises(ChordError, match=r"InteropError\('header', 5\)"):
            result.get(follow_parents=False, **FAST)
        assert result.state == "FAILURE"
        assert result.children == []  # the running task's children, as Celery records them
        recorded = wait_list(rdb, f"ci-errback-{result.id}")
        assert recorded[0].startswith(b"ChordError:") and b"InteropError" in recorded[0]

    def test_chord_body_get_raises_the_failing_header_tasks_error(self, app: Any) -> None:
        """Celery's drain loop: ``on_interval`` (parents' errors) once more after the body is ready."""
        sleep, fail, tsum = _task(app, "sleep"), _task(app, "fail"), _task(app, "tsum")
        for header in ([sleep.si(0.3), fail.si("hdr", 5)],
                       [chain(sleep.si(0.3), fail.si("mid", 2), _task(app, "add").s(1))]):
            with pytest.raises(InteropError):
                chord(header, tsum.s())().get(**FAST)

    def test_on_message_gets_each_state_once_never_pending(self, app: Any) -> None:
        seen: list[str] = []
        result = _task(app, "progress").delay()
        assert result.get(on_message=lambda meta: seen.append(meta["status"]), **FAST) == "finished"
        assert seen[-1] == "SUCCESS" and "PENDING" not in seen
        assert len(seen) == len(set(seen)) and set(seen) <= {"PROGRESS", "SUCCESS"}

    def test_group_as_chord_body(self, app: Any) -> None:
        add, identity = _task(app, "add"), _task(app, "identity")
        result = chord([add.s(1, 1), add.s(2, 2)], group(identity.s(), identity.s()))()
        assert result.get(**FAST) == [[2, 4], [2, 4]]

    def test_group_body_fails_each_member_on_header_failure(self, app: Any) -> None:
        add, fail, identity = _task(app, "add"), _task(app, "fail"), _task(app, "identity")
        body = group(identity.s(), identity.s())
        result = chord([add.s(1, 1), fail.s("hdr", 1)], body)()
        members = result.results
        for member in members:
            wait_state(member, "FAILURE")
            assert isinstance(member.result, InteropError)


def wait_list_or_key(client: redis.Redis, key: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not client.exists(key):
        assert time.monotonic() < deadline, f"{key} never written"
        time.sleep(0.05)

