"""``DynamoDBStore``: results as DynamoDB items laid out as Celery's ``DynamoDBBackend``'s.

An item is ``{id: S, result: B, timestamp: N, ttl: N}``; a chord counter is
``{id: S, chord_count: N}``.  Celery 5.7 builds ``id`` as ``str()`` of its *bytes* key,
so a task's item id is literally ``b'celery-task-meta-<id>'``; resultstore writes and
reads the same ids (:func:`item_id`), so both sides share one table.  Beyond Celery:

* expiry from ``result_expires``/``result_failure_expires`` through the native ``ttl``
  attribute, and items past their ``ttl`` are treated as gone at once (DynamoDB deletes
  them up to two days late);
* strongly consistent reads, batched reads (``BatchGetItem``, 100 per call) and writes
  (``BatchWriteItem``, 25 per call), unprocessed items retried;
* a stored SUCCESS is kept with a conditional put (compare-and-set on ``timestamp``);
* native chords, O(1) per part and exactly once under redelivery: a create-if-absent
  part item and a conditional add to one of ``size / 16`` bucket items
  (:mod:`resultstore_dynamodb.chords`);
* items over DynamoDB's 400 KB limit raise a clear :class:`BackendStoreError`.
"""

from __future__ import annotations

import ast
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from resultstore.config import Settings
from resultstore.errors import BackendStoreError
from resultstore.spec import Capability, ChordProgress, KeyValueStore

from .chords import DynamoDBChords
from .table import COUNT, KEY, TIMESTAMP, TTL, VALUE, ensure_table
from .url import DynamoDBConfig

__all__ = ["DynamoDBStore", "item_id", "key_of", "MAX_ITEM_SIZE"]

#: DynamoDB's item size limit (names and values of every attribute).
MAX_ITEM_SIZE = 400 * 1024
#: Items per BatchGetItem / BatchWriteItem call.
BATCH_GET, BATCH_WRITE = 100, 25
#: Error codes worth a retry.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
})
#: Attempts at unprocessed batch items / a contended guarded write.
ATTEMPTS = 8


def item_id(key: str) -> str:
    """The item id Celery 5.7 uses for ``key``: ``str()`` of the UTF-8 bytes."""
    return str(key.encode("utf-8"))


def key_of(item_id_: str) -> str | None:
    """The key behind an item id, ``None`` for ids that are not Celery's bytes form."""
    try:
        raw = ast.literal_eval(item_id_)
    except (ValueError, SyntaxError):
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None


def _expiry(ttl: float | None, now: float) -> int | None:
    return None if not ttl else math.ceil(now + ttl)


class DynamoDBStore(KeyValueStore):
    """DynamoDB through boto3; see the module docstring."""

    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = (
        'the CA bundle botocore verifies with (AWS_CA_BUNDLE, or ca_bundle in the '
        'AWS config file) and the endpoint host in the dynamodb:// URL')

    capabilities = frozenset({Capability.INCR, Capability.BATCH, Capability.GUARDED_SET,
                              Capability.SCAN, Capability.CHORD})

    def __init__(self, config: DynamoDBConfig, client: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.table = config.table_name
        self.clock = clock
        self.client = client or boto3.client(
            "dynamodb", config=BotoConfig(**{"retries": {"mode": "standard", "max_attempts": 3},
                                             **config.client_config}),
            **self._client_options())
        self._ready = False
        self._lock = threading.Lock()
        self.chords = DynamoDBChords(self)

    def _ensure_table(self) -> None:
        """Create/check the table on first use (constructing a store does no I/O)."""
        with self._lock:
            if not self._ready:
                ensure_table(self.client, self.config)
                self._ready = True

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DynamoDBStore:
        return cls(DynamoDBConfig.from_url(url, settings))

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"region_name": self.config.region}
        if self.config.endpoint_url:
            options["endpoint_url"] = self.config.endpoint_url
        if self.config.access_key_id:
            options.update(aws_access_key_id=self.config.access_key_id,
                           aws_secret_access_key=self.config.secret_access_key)
        return options

    # -- items ------------------------------------------------------------------
    def _ttl(self, ttl: float | None, now: float) -> int | None:
        fixed = self.config.ttl_seconds
        if fixed is not None:  # Celery's URL setting wins: one lifetime for every item
            return None if fixed < 0 else math.ceil(now + fixed)
        return _expiry(ttl, now)

    def _item(self, key: str, value: bytes, ttl: float | None) -> dict[str, Any]:
        now = self.clock()
        item_key = item_id(key)
        size = len(KEY) + len(item_key.encode()) + len(VALUE) + len(value) + len(TIMESTAMP) + 40
        if size > MAX_ITEM_SIZE:
            raise BackendStoreError(
                f"A DynamoDB item holds at most 400 KB; this result needs {size} bytes and was "
                f"not stored. Store a smaller result or offload large ones with a transform hook.")
        item: dict[str, Any] = {KEY: {"S": item_key}, VALUE: {"B": value},
                                TIMESTAMP: {"N": repr(now)}}
        expires = self._ttl(ttl, now)
        if expires is not None:
            item[TTL] = {"N": str(expires)}
        return item

    def _value(self, item: Mapping[str, Any] | None) -> bytes | None:
        if not item or VALUE not in item:
            return None
        if TTL in item and int(float(item[TTL]["N"])) <= self.clock():
            return None  # expired; DynamoDB deletes it later
        return bytes(item[VALUE]["B"])

    def get(self, key: str) -> bytes | None:
        if not self._ready:
            self._ensure_table()
        response = self.client.get_item(TableName=self.table, Key={KEY: {"S": item_id(key)}},
                                        ConsistentRead=True)
        return self._value(response.get("Item"))

    def batch_get_items(self, ids: Sequence[str],
                        projection: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
        """Raw items by id (only the ``projection`` attributes if given), ``BatchGetItem``
        100 at a time, unprocessed keys retried."""
        if not self._ready:
            self._ensure_table()
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        shape: dict[str, Any] = {"ConsistentRead": True}
        if projection:
            names = {f"#p{n}": name for n, name in enumerate(dict.fromkeys([KEY, *projection]))}
            shape.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        for start in range(0, len(unique), BATCH_GET):
            request: dict[str, Any] = {self.table: {
                "Keys": [{KEY: {"S": i}} for i in unique[start:start + BATCH_GET]], **shape}}
            for attempt in range(ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item[KEY]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            if request:
                raise BackendStoreError(f"DynamoDB left {len(request[self.table]['Keys'])} keys "
                                        f"unprocessed after {ATTEMPTS} attempts (throttled?).")
        return found

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        items = self.batch_get_items([item_id(k) for k in keys])
        return [self._value(items.get(item_id(k))) for k in keys]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        if not self._ready:
            self._ensure_table()
        self.client.put_item(TableName=self.table, Item=self._item(key, value, ttl))

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH_WRITE):
            pending = {self.table: requests[start:start + BATCH_WRITE]}
            for attempt in range(ATTEMPTS):
                pending = self.client.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            if pending:
                raise BackendStoreError(f"DynamoDB left {len(pending[self.table])} writes "
                                        f"unprocessed after {ATTEMPTS} attempts (throttled?).")

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        if not self._ready:
            self._ensure_table()
        self._batch_write([{"PutRequest": {"Item": self._item(k, v, ttl)}} for k, v in items.items()])

    def delete(self, key: str) -> None:
        if not self._ready:
            self._ensure_table()
        self.client.delete_item(TableName=self.table, Key={KEY: {"S": item_id(key)}})

    def delete_many(self, keys: Sequence[str]) -> None:
        if not self._ready:
            self._ensure_table()
        ids = dict.fromkeys(item_id(k) for k in keys)
        self._batch_write([{"DeleteRequest": {"Key": {KEY: {"S": i}}}} for i in ids])

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        """Compare-and-set on ``timestamp``: read, decide, put only if nobody wrote meanwhile."""
        if not self._ready:
            self._ensure_table()
        item = self._item(key, value, ttl)
        for _ in range(ATTEMPTS):
            current = self.client.get_item(TableName=self.table, Key={KEY: item[KEY]},
                                           ConsistentRead=True).get("Item")
            stored = self._value(current)
            if stored is not None and stored.startswith(prefix):
                return False
            if current is None:
                condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#k)",
                                             "ExpressionAttributeNames": {"#k": KEY}}
            elif TIMESTAMP in current:
                condition = {"ConditionExpression": "#ts = :ts",
                             "ExpressionAttributeNames": {"#ts": TIMESTAMP},
                             "ExpressionAttributeValues": {":ts": current[TIMESTAMP]}}
            else:
                condition = {"ConditionExpression": "attribute_not_exists(#ts)",
                             "ExpressionAttributeNames": {"#ts": TIMESTAMP}}
            try:
                self.client.put_item(TableName=self.table, Item=item, **condition)
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        raise BackendStoreError(f"{key!r} kept changing during {ATTEMPTS} guarded writes")

    def incr(self, key: str, ttl: float | None) -> int:
        """``UpdateItem ADD chord_count :1`` (creates the counter), returning the new count."""
        if not self._ready:
            self._ensure_table()
        names = {"#c": COUNT}
        values: dict[str, Any] = {":one": {"N": "1"}}
        expression = "ADD #c :one"
        expires = self._ttl(ttl, self.clock())
        if expires is not None:
            names["#t"] = TTL
            values[":ttl"] = {"N": str(expires)}
            expression += " SET #t = :ttl"
        response = self.client.update_item(
            TableName=self.table, Key={KEY: {"S": item_id(key)}}, UpdateExpression=expression,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW")
        return int(response["Attributes"][COUNT]["N"])

    # -- chords (see resultstore_dynamodb.chords) ------------------------------------
    def chord_set_size(self, group_key: str, size: int, ttl: float | None) -> None:
        if not self._ready:
            self._ensure_table()
        self.chords.set_size(group_key, size, ttl)

    def chord_add(self, group_key: str, member: str, index: int | None, value: bytes,
                  ttl: float | None) -> ChordProgress:
        if not self._ready:
            self._ensure_table()
        return self.chords.add(group_key, member, index, value, ttl)

    def chord_grow(self, group_key: str, by: int, ttl: float | None) -> None:
        if not self._ready:
            self._ensure_table()
        self.chords.grow(group_key, by, ttl)

    def chord_parts(self, group_key: str) -> list[bytes]:
        return self.chords.parts(group_key)

    def chord_clear(self, group_key: str) -> None:
        self.chords.clear(group_key)

    def scan(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix`` (a full table Scan: for listing and tools only)."""
        if not self._ready:
            self._ensure_table()
        bare = item_id(prefix)[:-1]  # "b'prefix" without the closing quote
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True,
            FilterExpression="begins_with(#k, :p1) OR begins_with(#k, :p2)",
            ExpressionAttributeNames={"#k": KEY},
            ExpressionAttributeValues={":p1": {"S": bare}, ":p2": {"S": 'b"' + bare[2:]}})
        for page in pages:
            for item in page.get("Items", []):
                key = key_of(item[KEY]["S"])
                if key is not None and key.startswith(prefix) and self._value(item) is not None:
                    yield key

    # -- plumbing -----------------------------------------------------------------
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Throttling, server errors and lost connections; never validation errors."""
        if isinstance(exc, ClientError):
            return exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES
        return isinstance(exc, (ConnectionError, HTTPClientError))

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        self.client.close()
