"""The task meta dict, field by field and in Celery's order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from types import EllipsisType
from typing import Any

from .. import states
from ..errors import CorruptResultError

__all__ = ["build_meta", "pending_meta", "children_of", "as_tuple", "check_meta", "check_part",
           "check_group"]


def _where(key: str) -> str:
    return f"Stored record {key!r}" if key else "A stored record"


def check_meta(meta: Any, key: str = "") -> dict[str, Any]:
    """``meta`` if it has the shape every reader relies on, else :class:`CorruptResultError`.

    A task meta is a dict with a string ``status`` and a ``result``;
    ``traceback`` is a string or null, ``children`` a list or null.
    """
    if not isinstance(meta, dict):
        raise CorruptResultError(f"{_where(key)} is not a task meta (a {type(meta).__name__}, "
                                 f"not a dict with 'status' and 'result').")
    status = meta.get("status")
    if not isinstance(status, str):
        got = "no 'status'" if "status" not in meta else f"a {type(status).__name__} status"
        raise CorruptResultError(f"{_where(key)} is not a task meta: it has {got} "
                                 f"(a state name string is required).")
    if "result" not in meta:
        raise CorruptResultError(f"{_where(key)} ({status}) has no 'result' field.")
    for field, kinds in (("traceback", (str,)), ("children", (list, tuple))):
        value = meta.get(field)
        if value is not None and not isinstance(value, kinds):
            raise CorruptResultError(f"{_where(key)} ({status}) has a {type(value).__name__} "
                                     f"{field!r}.")
    return meta


def check_part(part: Any, key: str = "") -> tuple[str, str, Any]:
    """``(task_id, state, result)`` of a stored chord part ``[1, task_id, state, result]``."""
    if (not isinstance(part, (list, tuple)) or len(part) != 4 or not isinstance(part[1], str)
            or not isinstance(part[2], str)):
        raise CorruptResultError(f"{_where(key)} holds a chord part that is not "
                                 f"[1, task_id, state, result]: {type(part).__name__}.")
    return part[1], part[2], part[3]


def check_group(meta: Any, key: str = "") -> dict[str, Any]:
    """A saved group meta ``{'result': tuple}``, else :class:`CorruptResultError`."""
    if not isinstance(meta, dict) or "result" not in meta:
        raise CorruptResultError(f"{_where(key)} is not a saved group ({type(meta).__name__} "
                                 f"without 'result').")
    return meta


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
