"""A 1 MB result through dynamodb:// (400 KB item limit) with offload, on moto."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

import resultstore
from resultstore.errors import ResultStoreError

ONE_MB = "d" * 1_000_000


def test_one_megabyte_result_offloaded(dynamodb_url: str,
                                       open_dynamodb: Callable[..., resultstore.ResultBackend]) -> None:
    settings = {"resultstore_offload_url": f"memory://dynamo-offload-{uuid.uuid4().hex}",
                "resultstore_offload_threshold": 256 * 1024}
    task_id = f"big-{uuid.uuid4().hex}"
    with pytest.raises(ResultStoreError):  # without offload the item exceeds DynamoDB's 400 KB
        open_dynamodb(dynamodb_url).mark_as_done(task_id, ONE_MB)
    writer = open_dynamodb(dynamodb_url, **settings)
    writer.mark_as_done(task_id, ONE_MB)
    reader = open_dynamodb(dynamodb_url, **settings)
    assert reader.get_task_meta(task_id)["result"] == ONE_MB
    assert reader.get_many([task_id])[task_id]["result"] == ONE_MB
    reader.forget(task_id)
    assert reader.get_task_meta(task_id)["status"] == "PENDING"
