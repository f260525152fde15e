"""The task meta dict, field by field and in Celery's order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from types import EllipsisType
from typing import Any

from .. import states

__all__ = ["build_meta", "pending_meta", "children_of", "as_tuple"]


def pending_meta(task_id: str | None = None) -> dict[str, Any]:
    """The meta of an unknown task (Celery never stores PENDING)."""
    meta: dict[str, Any] = {"status": states.PENDING, "result": None}
    if task_id is not None:
        meta["task_id"] = task_id
    return meta


def as_tuple(result: Any) -> Any:
    """``result.as_tuple()`` for result objects; tuples/lists pass through."""
    to_tuple = getattr(result, "as_tuple", None)
    return to_tuple() if callable(to_tuple) else result


def children_of(request: Any) -> list[Any] | None:
    """Celery's ``current_task_children``: child tuples, or ``None`` without a request."""
    if request is None:
        return None
    return [as_tuple(child) for child in (getattr(request, "children", None) or ())]


def build_meta(
    task_id: str,
    result: Any,
    state: str,
    traceback: str | None,
    request: Any,
    *,
    extended: bool,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    children: list[Any] | EllipsisType | None = ...,
) -> dict[str, Any]:
    """Build the meta Celery's ``_get_result_meta`` + ``_store_result`` write.

    ``children`` overrides the child tuples taken from ``request`` (Celery's
    hosts pass the running task's children when there is no request).
    """
    meta: dict[str, Any] = {
        "status": state,
        "result": result,
        "traceback": traceback,
        "children": children_of(request) if children is ... else children,
        "date_done": now().isoformat() if state in states.READY_STATES else None,
    }
    if request is not None and getattr(request, "group", None):
        meta["group_id"] = request.group
    if request is not None and getattr(request, "parent_id", None):
        meta["parent_id"] = request.parent_id
    if extended and request is not None:
        delivery_info = getattr(request, "delivery_info", None)
        meta.update(
            name=getattr(request, "task", None),
            args=getattr(request, "args", None),
            kwargs=getattr(request, "kwargs", None),
            worker=getattr(request, "hostname", None),
            retries=getattr(request, "retries", None),
            queue=delivery_info.get("routing_key") if delivery_info else None,
        )
        stamps = getattr(request, "stamps", None)
        if stamps:
            stamped = getattr(request, "stamped_headers", None) or ()
            meta["stamped_headers"] = getattr(request, "stamped_headers", None)
            meta.update({k: v for k, v in stamps.items() if k in stamped})
    meta["task_id"] = task_id
    return meta
