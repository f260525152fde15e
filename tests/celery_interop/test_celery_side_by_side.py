"""What a client observes, Celery's ``RedisBackend`` beside ours, each with its own real worker.

* ``get(on_message=...)``: the states delivered (Celery: never ``PENDING``).
* the error ``get()``/``join()``/``join_native()`` raise on a chord body whose
  header failed (Celery's drain loop calls ``on_interval`` once more after the
  result is ready, so the failing header task's own exception wins).

A worker on Celery's backend and one on resultstore-redis serve separate
queues; every shape runs on both and the outcomes must be equal.  DynamoDB
(moto server) runs the same shapes through the polling path, CouchDB (pouchdb-server)
through its ``_changes`` push.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import chain, chord
from celery.result import ResultSet
from ci_app import make_app
from ci_harness import Worker, base_config
from ci_scenarios import FAST

from resultstore.testing.pouchdb import pouchdb_server
from resultstore.testing.servers import ServerProcess

#: Chords whose header fails while the client already waits (the failing part
#: runs beside, or after, a 0.3 s sleep, so the body is never ready before ``get()``).
SHAPES: dict[str, Callable[[Any], Any]] = {
    "header group with a failing task": lambda t: chord(
        [t["ci.sleep"].si(0.3), t["ci.fail"].si("hdr", 5)], t["ci.tsum"].s()),
    "header chain failing in the middle": lambda t: chord(
        [chain(t["ci.sleep"].si(0.3), t["ci.fail"].si("mid", 2), t["ci.add"].s(1)),
         t["ci.add"].si(2, 2)], t["ci.tsum"].s()),
    "header chain failing at its tail": lambda t: chord(
        [chain(t["ci.sleep"].si(0.3), t["ci.fail"].si("tail", 3)), t["ci.add"].si(2, 2)],
        t["ci.tsum"].s()),
    "single failing header task": lambda t: chord(
        [chain(t["ci.sleep"].si(0.3), t["ci.fail"].si("only", 4))], t["ci.tsum"].s()),
}

WAYS: dict[str, Callable[[Any], Any]] = {
    "get": lambda result: result.get(**FAST),
    "join": lambda result: ResultSet([result]).join(**FAST),
    "join_native": lambda result: ResultSet([result]).join_native(**FAST),
}


def _outcome(app: Any, shape: str, way: str) -> tuple[str, tuple[Any, ...]]:
    result = SHAPES[shape](app.tasks).delay()
    try:
        value = WAYS[way](result)
    except Exception as exc:  # the outcome compared is the exception itself
        return type(exc).__name__, _comparable(exc.args)
    return "returned", (value,)


def _comparable(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Exception args without task ids (``Dependency <id> raised ...``)."""
    return tuple(a.split(" raised ", 1)[-1] if isinstance(a, str) and a.startswith("Dependency")
                 else a for a in args)


def _states(app: Any) -> list[str]:
    seen: list[str] = []
    result = app.tasks["ci.progress"].delay()
    assert result.get(on_message=lambda meta: seen.append(meta["status"]), **FAST) == "finished"
    return seen


@pytest.fixture(scope="module")
def apps(redis_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, Any]]:
    theirs = base_config(redis_server, db=21, queue="ci-side-theirs")
    theirs["result_backend"] = "celery.backends.redis:RedisBackend"
    theirs.update(redis_host="127.0.0.1", redis_port=redis_server.port, redis_db=22)
    ours = base_config(redis_server, db=23, queue="ci-side-ours")
    ours["result_backend"] = f"redis://127.0.0.1:{redis_server.port}/24"
    with Worker(theirs, tmp_path_factory.mktemp("side-theirs"), pool="prefork",
                concurrency=2), \
         Worker(ours, tmp_path_factory.mktemp("side-ours"), pool="prefork", concurrency=2):
        yield {"celery": make_app(theirs), "resultstore": make_app(ours)}


def test_on_message_states_as_celery(apps: dict[str, Any]) -> None:
    theirs, ours = _states(apps["celery"]), _states(apps["resultstore"])
    assert theirs == ["PROGRESS", "SUCCESS"]
    assert ours == theirs


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_chord_header_failure_error_as_celery(apps: dict[str, Any], shape: str, way: str) -> None:
    theirs = _outcome(apps["celery"], shape, way)
    ours = _outcome(apps["resultstore"], shape, way)
    assert ours == theirs
    if way != "join_native":  # join_native does not follow parents, in Celery either
        assert theirs[0] == "InteropError"


# -- the same shapes on DynamoDB (polling path), compared with Celery's answers above ----------
@pytest.fixture(scope="module")
def dynamodb_app(redis_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Any]:
    pytest.importorskip("resultstore_dynamodb", reason="resultstore-dynamodb not installed")
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"]
    with ServerProcess(argv, workdir=Path(tmp_path_factory.mktemp("side-moto"))) as moto:
        conf = base_config(redis_server, db=25, queue="ci-side-dynamodb")
        conf["result_backend"] = f"dynamodb://test:test@127.0.0.1:{moto.port}/side-results"
        with Worker(conf, tmp_path_factory.mktemp("side-dynamodb"), pool="prefork",
                    concurrency=2):
            yield make_app(conf)


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_dynamodb_chord_header_failure_error_as_celery(apps: dict[str, Any], dynamodb_app: Any,
                                                       shape: str, way: str) -> None:
    assert _outcome(dynamodb_app, shape, way) == _outcome(apps["celery"], shape, way)


def test_dynamodb_on_message_states(dynamodb_app: Any) -> None:
    states = _states(dynamodb_app)
    assert states[-1] == "SUCCESS" and "PENDING" not in states
    assert len(states) == len(set(states))  # each state once


# -- the same shapes on CouchDB (push through the _changes feed), compared with Celery's ----------
@pytest.fixture(scope="module")
def couchdb_app(redis_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Any]:
    with pouchdb_server(tmp_path_factory.mktemp("side-pouchdb")) as couch:
        conf = base_config(redis_server, db=31, queue="ci-side-couchdb")
        conf["result_backend"] = f"{couch}/side-results"
        with Worker(conf, tmp_path_factory.mktemp("side-couchdb"), pool="prefork",
                    concurrency=2):
            yield make_app(conf)


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_couchdb_chord_header_failure_error_as_celery(apps: dict[str, Any], couchdb_app: Any,
                                                      shape: str, way: str) -> None:
    assert _outcome(couchdb_app, shape, way) == _outcome(apps["celery"], shape, way)


def test_couchdb_on_message_states_as_celery(apps: dict[str, Any], couchdb_app: Any) -> None:
    assert _states(couchdb_app) == _states(apps["celery"]) == ["PROGRESS", "SUCCESS"]
