"""Large-result offload through redis://: readers with the feature, and Celery's RedisBackend."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from redis_servers import Deployment

from resultstore.offload import POINTER_FIELD

BIG = "r" * 300_000


def test_offloaded_result_and_what_celery_sees(redis_plain: Deployment) -> None:
    from celery import Celery
    from celery.backends.redis import RedisBackend

    offload = f"memory://redis-offload-{uuid.uuid4().hex}"
    settings = {"resultstore_offload_url": offload, "resultstore_offload_threshold": 100_000}
    ours = redis_plain.connect(**settings)
    task_id = f"offload-{uuid.uuid4().hex}"
    ours.mark_as_done(task_id, BIG)
    assert len(ours.store.get(ours.keys.task(task_id))) < 500  # type: ignore[union-attr]
    assert redis_plain.connect(**settings).get_task_meta(task_id)["result"] == BIG

    parts = urlsplit(redis_plain.url)
    app = Celery("offload", broker="memory://", backend=RedisBackend, set_as_current=False)
    app.conf.update(redis_host=parts.hostname, redis_port=parts.port, redis_db=0)
    seen = app.backend.get_task_meta(task_id)
    assert seen["status"] == "SUCCESS" and seen["task_id"] == task_id
    pointer = seen["result"]
    assert pointer[POINTER_FIELD] == 1 and pointer["location"] == offload
    assert pointer["key"] == f"celery-task-meta-{task_id}.offload-{pointer['sha256'][:32]}"
    assert pointer["size"] > len(BIG) and len(pointer["sha256"]) == 64
    ours.forget(task_id)
    assert app.backend.get_task_meta(task_id)["status"] == "PENDING"


def test_offloaded_chord_parts_on_celery_lua_protocol(redis_plain: Deployment) -> None:
    settings = {"resultstore_offload_url": f"memory://redis-chord-{uuid.uuid4().hex}",
                "resultstore_offload_threshold": 100_000}
    backend = redis_plain.connect(**settings)
    group_id = f"chord-{uuid.uuid4().hex}"
    backend.set_chord_size(group_id, 2)
    backend.chord_part_return(group_id, "a", 0, "SUCCESS", BIG)
    parts = backend.chord_part_return(group_id, "b", 1, "SUCCESS", 2)
    assert parts is not None and [p.result for p in parts] == [BIG, 2]
