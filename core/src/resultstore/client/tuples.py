"""``result_from_tuple``: rebuild result objects from their stored tuple form.

Tuples are what Celery stores for children and saved groups:
``[[id, parent_tuple_or_null], null]`` for a task and
``[[group_id, parent_tuple_or_null], [member_tuple, ...]]`` for a group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DecodeError
from .result import AsyncResult, ResultBase, RevokeHook
from .resultset import GroupResult

if TYPE_CHECKING:
    from ..backend import ResultBackend

__all__ = ["result_from_tuple"]


def result_from_tuple(r: Any, backend: ResultBackend | None = None, *,
                      revoke: RevokeHook | None = None) -> ResultBase:
    """Rebuild an :class:`AsyncResult` or :class:`GroupResult` (with parents) from a tuple.

    Result objects pass through unchanged.  Malformed input raises :class:`DecodeError`.

    >>> import resultstore
    >>> backend = resultstore.connect("memory://doctest-tuples")
    >>> g = result_from_tuple([["g1", None], [[["t1", None], None], [["t2", [["t0", None], None]], None]]],
    ...                       backend)
    >>> g, g.results[1].parent
    (<GroupResult: g1 [t1, t2]>, <AsyncResult: t0>)
    """
    if isinstance(r, ResultBase):
        return r
    try:
        return _build(r, backend, revoke)
    except (TypeError, ValueError, RecursionError) as exc:
        raise DecodeError(f"Not a result tuple: {r!r:.200} ({type(exc).__name__}: {exc})") from exc


def _build(r: Any, backend: ResultBackend | None, revoke: RevokeHook | None) -> ResultBase:
    if isinstance(r, ResultBase):
        return r
    res, nodes = r
    task_id, parent = res if isinstance(res, (list, tuple)) else (res, None)
    if not isinstance(task_id, str):
        raise TypeError(f"result id must be a string, got {type(task_id).__name__}")
    parent_result = _build(parent, backend, revoke) if parent else None
    if nodes is not None:
        return GroupResult(task_id, [_build(child, backend, revoke) for child in nodes],
                           parent=parent_result, backend=backend, revoke=revoke)
    return AsyncResult(task_id, backend, parent=parent_result, revoke=revoke)
