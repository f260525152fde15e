"""A 1 MB result through cache+memcached:// (1 MiB item limit) with offload."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

import resultstore
from resultstore.errors import ResultStoreError

ONE_MB = "m" * 1_100_000


def test_one_megabyte_result_offloaded(memcached_url: str,
                                       open_cache: Callable[..., resultstore.ResultBackend]) -> None:
    settings = {"resultstore_offload_url": f"memory://cache-offload-{uuid.uuid4().hex}",
                "resultstore_offload_threshold": 256 * 1024}
    task_id = f"big-{uuid.uuid4().hex}"
    with pytest.raises(ResultStoreError):  # without offload memcached refuses the item
        open_cache(f"cache+{memcached_url}").mark_as_done(task_id, ONE_MB)
    open_cache(f"cache+{memcached_url}", **settings).mark_as_done(task_id, ONE_MB)
    reader = open_cache(f"cache+{memcached_url}", **settings)
    assert reader.get_task_meta(task_id)["result"] == ONE_MB
    assert reader.get_many([task_id])[task_id]["result"] == ONE_MB
