"""The AMQP side of Celery's RPC backend: queues, state messages, and reading them back.

Celery 5.7's ``RPCBackend`` (``celery/backends/rpc.py``) sends every state of a
task as one message to the default exchange, routing key = the client's
``reply_to`` queue, ``correlation_id`` = the task id, body = the task meta
serialized with ``result_serializer``.  The client's queue is named after
``app.thread_oid``, declared ``durable=True, auto_delete=True`` with
``x-expires = result_expires``.  These helpers build exactly that, so Celery's
clients and workers and ours interoperate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import kombu
from kombu.serialization import loads

from resultstore.codec import COMPRESSED_PAYLOAD_MAGIC, Serializer

__all__ = ["StateMessage", "reply_queue", "parts_queue", "parts_queue_name", "read_message",
           "publish_args", "PARTS_QUEUE_PREFIX"]

log = logging.getLogger("resultstore.rpc")

#: Queues holding the header results of one chord (read by ``celery.chord_unlock``).
PARTS_QUEUE_PREFIX = "resultstore.rpc.chord."

#: kombu's content encodings of the serializers core knows.
_TEXT_SERIALIZERS = frozenset({"json", "yaml"})


@dataclass(frozen=True)
class StateMessage:
    """One state message of a task, ready for core: the id, its state and the payload."""

    task_id: str
    #: ``None`` when the payload could not be read here (core raises the real error on read).
    status: str | None
    #: Bytes in the reader's own serializer (what core's codec decodes).
    body: bytes


def _exchange() -> kombu.Exchange:
    return kombu.Exchange(None)  # the default ("anon") exchange: routing key = queue name


def reply_queue(name: str, expires: float | None) -> kombu.Queue:
    """A client's reply queue, declared exactly as Celery's ``RPCBackend.binding``."""
    return kombu.Queue(name, _exchange(), name, durable=True, auto_delete=True,
                       expires=expires or None)


def parts_queue_name(group_id: str) -> str:
    """The name of the parts queue of chord ``group_id``."""
    return PARTS_QUEUE_PREFIX + group_id


def parts_queue(group_id: str, expires: float | None) -> kombu.Queue:
    """The queue a chord's header parts are copied to, until ``celery.chord_unlock`` joins them.

    Not auto-deleted (it has no consumer, only ``basic_get``); ``x-expires``
    removes it when a chord is abandoned.
    """
    name = parts_queue_name(group_id)
    return kombu.Queue(name, _exchange(), name, durable=True, auto_delete=False,
                       expires=expires or None)


def publish_args(payload: bytes, serializer: Serializer) -> dict[str, Any]:
    """``Producer.publish`` keywords for a core-encoded payload.

    Celery's in-band compression marker becomes kombu's ``compression``
    header (the same content types), which every kombu consumer — Celery's
    RPC client included — undoes transparently.
    """
    headers: dict[str, Any] = {}
    if payload.startswith(COMPRESSED_PAYLOAD_MAGIC):
        content_type, _, payload = payload[len(COMPRESSED_PAYLOAD_MAGIC):].partition(b"\x00")
        headers["compression"] = content_type.decode("utf-8")
    return {
        "body": payload,
        "content_type": serializer.content_type,
        "content_encoding": "utf-8" if serializer.name in _TEXT_SERIALIZERS else "binary",
        "headers": headers,
    }


def read_message(message: Any, serializer: Serializer, accept: frozenset[str]) -> StateMessage | None:
    """Turn a received kombu message into a :class:`StateMessage`, or ``None`` if unattributable.

    The task id comes from the payload's ``task_id`` (as Celery's consumer
    does), else from the ``correlation_id`` property.  Payloads in another
    accepted serializer are re-encoded in ``serializer``; unreadable ones are
    passed through unchanged so that reading the task raises the precise
    error (DecodeError, SecurityError) instead of silently losing it.
    """
    body = message.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    content_type = message.content_type or serializer.content_type
    payload: Any = None
    try:
        payload = loads(body, content_type, message.content_encoding or "binary", accept=accept)
    except Exception:  # noqa: BLE001 - disallowed or corrupt: attribute by correlation id
        payload = None
    if not isinstance(payload, dict):
        payload = None
    task_id = payload.get("task_id") if payload else None
    if not task_id:
        task_id = message.properties.get("correlation_id")
    if not task_id:
        log.warning("rpc: dropped a reply message without task_id or correlation_id (%d bytes)",
                    len(body))
        return None
    status = payload.get("status") if payload else None
    if payload is not None and content_type != serializer.content_type:
        body = serializer.dumps(payload)
    return StateMessage(str(task_id), status if isinstance(status, str) else None, bytes(body))
