"""Create the table and set its Time to Live, with Celery's schema and rules."""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from resultstore.errors import ImproperlyConfigured

from .url import DynamoDBConfig

__all__ = ["ensure_table", "KEY", "VALUE", "COUNT", "TIMESTAMP", "TTL"]

log = logging.getLogger(__name__)

#: Attribute names of Celery's ``DynamoDBBackend`` items.
KEY, VALUE, COUNT, TIMESTAMP, TTL = "id", "result", "chord_count", "timestamp", "ttl"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_table(client: Any, config: DynamoDBConfig, timeout: float = 60.0) -> None:
    """Create the table if missing (hash key ``id`` S) and apply the TTL policy.

    ``ttl_seconds`` >= 0 enables TTL on ``ttl`` and < 0 disables it, as Celery.  Without
    ``ttl_seconds`` a table created here gets TTL enabled; an existing one is left alone.
    """
    created = False
    try:
        client.describe_table(TableName=config.table_name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        try:
            client.create_table(
                TableName=config.table_name,
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                ProvisionedThroughput={"ReadCapacityUnits": config.read_capacity_units,
                                       "WriteCapacityUnits": config.write_capacity_units})
            created = True
        except ClientError as exc2:
            if _code(exc2) != "ResourceInUseException":  # created concurrently
                raise
        _wait_active(client, config.table_name, timeout)
    wanted = True if config.ttl_seconds is None and created else (
        None if config.ttl_seconds is None else config.ttl_seconds >= 0)
    if wanted is not None:
        _set_ttl(client, config.table_name, wanted)


def _wait_active(client: Any, table: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while client.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise ImproperlyConfigured(f"DynamoDB table {table!r} is not ACTIVE after {timeout}s.")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _set_ttl(client: Any, table: str, enabled: bool) -> None:
    description = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    status = description.get("TimeToLiveStatus", "DISABLED")
    attribute = description.get("AttributeName")
    if enabled and status in ("ENABLED", "ENABLING"):
        if attribute != TTL:
            raise ImproperlyConfigured(
                f"DynamoDB table {table!r} has Time to Live on attribute {attribute!r}; results "
                f"expire through {TTL!r} (as Celery's). Change the table's TTL attribute.")
        return
    if not enabled and status in ("DISABLED", "DISABLING"):
        return
    client.update_time_to_live(TableName=table, TimeToLiveSpecification={
        "Enabled": enabled, "AttributeName": attribute if status == "ENABLED" else TTL})
    log.info("DynamoDB table %s: Time to Live %s on %r", table,
             "enabled" if enabled else "disabled", TTL)
