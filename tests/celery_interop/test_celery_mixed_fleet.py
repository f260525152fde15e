"""A mixed fleet on one queue: a worker on Celery's RedisBackend, one on resultstore-redis.

Clients of both kinds send chords whose header tasks land on either worker;
every chord body must run exactly once and every result must read the same
from both clients (Celery 5.7's Redis chord protocol on both sides).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import chord, group
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from ci_app import InteropError, make_app
from ci_harness import Worker, base_config
from ci_scenarios import FAST

from resultstore.testing.servers import ServerProcess
from resultstore_redis.host import RedisBackend

CHORDS = 12
HEADER = 8


@pytest.fixture(scope="module")
def configs(redis_server: ServerProcess) -> tuple[dict[str, Any], dict[str, Any]]:
    ours = base_config(redis_server, db=11, queue="ci-mixed")
    ours["result_backend"] = f"redis://127.0.0.1:{redis_server.port}/12"
    theirs = dict(ours)
    theirs["result_backend"] = "celery.backends.redis:RedisBackend"
    theirs.update(redis_host="127.0.0.1", redis_port=redis_server.port, redis_db=12)
    return ours, theirs


@pytest.fixture(scope="module")
def fleet(configs: tuple[dict[str, Any], dict[str, Any]],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, Worker]]:
    ours, theirs = configs
    with Worker(ours, tmp_path_factory.mktemp("mixed-ours"), pool="prefork",
                concurrency=2) as first, \
         Worker(theirs, tmp_path_factory.mktemp("mixed-theirs"), pool="prefork",
                concurrency=2) as second:
        yield first, second


@pytest.fixture(scope="module")
def clients(configs: tuple[dict[str, Any], dict[str, Any]],
            fleet: tuple[Worker, Worker]) -> tuple[Any, Any]:
    ours, theirs = (make_app(c) for c in configs)
    assert type(ours.backend) is RedisBackend
    assert type(theirs.backend) is CeleryRedisBackend
    return ours, theirs


def test_every_chord_body_runs_once(clients: tuple[Any, Any], fleet: tuple[Worker, Worker]
                                    ) -> None:
    ours, theirs = clients
    side = redis.Redis.from_url(ours.conf.ci_redis_url)
    sent = []
    for n in range(CHORDS):
        client = (ours, theirs)[n % 2]
        add, record = client.tasks["ci.add"], client.tasks["ci.record"]
        tag = f"{id(clients)}-{n}"
        sent.append((tag, chord(add.s(i, n) for i in range(HEADER))(record.s(tag))))
    for n, (_, result) in enumerate(sent):
        expected = sum(i + n for i in range(HEADER))
        assert result.get(**FAST) == expected
        for reader in clients:  # both kinds of client read the body's result
            assert reader.AsyncResult(result.id).get(**FAST) == expected
    assert [int(side.get(f"ci-body-{tag}") or 0) for tag, _ in sent] == [1] * CHORDS
    for worker in fleet:  # both workers took part
        assert "ci.add" in worker.log
    side.close()


def test_failed_chord_and_groups_across_backends(clients: tuple[Any, Any]) -> None:
    ours, theirs = clients
    failing = chord([ours.tasks["ci.add"].s(1, 1), ours.tasks["ci.fail"].s("mixed", 4)],
                    ours.tasks["ci.tsum"].s())()
    with pytest.raises(Exception, match="mixed"):
        theirs.AsyncResult(failing.id).get(**FAST)
    result = group(theirs.tasks["ci.add"].s(i, i) for i in range(10))()
    result.save()
    restored = ours.GroupResult.restore(result.id, app=ours)
    assert restored.join_native(**FAST) == [2 * i for i in range(10)]
    assert result.join_native(**FAST) == [2 * i for i in range(10)]
    errored = theirs.tasks["ci.fail"].delay("cross", 9)
    with pytest.raises(InteropError):
        ours.AsyncResult(errored.id).get(**FAST)
