"""Celery loads this plugin from its entry points for every scheme, on every deployment."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult
from redis_servers import Deployment

from resultstore import states
from resultstore_redis.host import RedisBackend, RedisClusterBackend, SentinelBackend

DEPLOYMENTS = {
    "redis_plain": RedisBackend,
    "redis_tls": RedisBackend,
    "redis_sentinel": SentinelBackend,
    "redis_cluster": RedisClusterBackend,
}


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_celery_app_uses_the_plugin(name: str, request: pytest.FixtureRequest) -> None:
    deployment: Deployment = request.getfixturevalue(name)
    app = Celery(f"ep-{name}", broker="memory://", set_as_current=False)
    app.conf.update(result_backend=deployment.url, **deployment.settings)
    backend: Any = app.backend
    assert type(backend) is DEPLOYMENTS[name]
    assert backend.as_uri().split("://")[0] == deployment.url.split("://")[0]
    task_id = f"ep-{uuid.uuid4()}"
    out: dict[str, Any] = {}

    def wait() -> None:
        out["value"] = AsyncResult(task_id, app=app).get(timeout=10)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    backend.store_result(task_id, {"via": name}, states.SUCCESS)
    waiter.join(15)
    assert out["value"] == {"via": name}
    backend.backend.close()
