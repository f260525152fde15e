"""``celery -A ddb_app worker``: the bench's app, configured from ``RS_DDB_CONFIG`` (JSON)."""

from __future__ import annotations

import json
import os
from typing import Any

from celery import Celery


def make_app(config: dict[str, Any], name: str = "ddb_app") -> Celery:
    app = Celery(name, set_as_current=False)
    app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
                    worker_prefetch_multiplier=4)
    app.conf.update(config)

    @app.task(name="ddb.identity", shared=False)
    def identity(x: Any) -> Any:
        return x

    @app.task(name="ddb.tsum", shared=False)
    def tsum(values: list[int]) -> int:
        return sum(values)

    return app


if "RS_DDB_CONFIG" in os.environ:
    app = make_app(json.loads(os.environ["RS_DDB_CONFIG"]))
