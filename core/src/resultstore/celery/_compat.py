"""Lazy access to Celery objects: only called on paths where Celery is the caller.

Importing :mod:`resultstore.celery` never imports Celery; these helpers do,
the first time a Celery-only code path needs an exception class or a helper.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .. import errors

__all__ = ["celery_chord_error", "celery_timeout_error", "to_celery_error", "chord_error_with_cause",
           "raises_celery_errors"]

F = TypeVar("F", bound=Callable[..., Any])

#: Private methods Celery calls on a backend (``shared/spec/celery-host.md`` 2.2).
CELERY_PRIVATE_CALLS = frozenset({"__init__", "_get_task_meta_for", "_ensure_retryable",
                                  "_ensure_not_eager"})


def celery_timeout_error() -> type[Exception]:
    from celery.exceptions import TimeoutError as CeleryTimeoutError

    return CeleryTimeoutError  # type: ignore[no-any-return]


def celery_chord_error() -> type[Exception]:
    from celery.exceptions import ChordError

    return ChordError  # type: ignore[no-any-return]


def chord_error_with_cause(message: str, cause: Any = None) -> Exception:
    """Celery's ``_create_chord_error_with_cause``: a ChordError keeping ``cause``."""
    error = celery_chord_error()(message)
    if isinstance(cause, Exception):
        error.__cause__ = cause
    return error


def to_celery_error(exc: BaseException) -> BaseException:
    """``exc``, made an instance of the Celery class Celery's own backend would raise too.

    resultstore's errors keep their class (and message, attributes, traceback):
    they become instances of :mod:`resultstore.celery.exceptions`' twins.
    """
    if not isinstance(exc, errors.ResultStoreError):
        return exc
    from .exceptions import as_celery_error  # imports Celery: reached only under Celery

    return as_celery_error(exc)


def _translating(func: F) -> F:
    if getattr(func, "__resultstore_celery_errors__", False):
        return func
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                return (yield from func(*args, **kwargs))
            except errors.ResultStoreError as exc:
                to_celery_error(exc)
                raise
        wrapper: Any = generator
    else:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except errors.ResultStoreError as exc:
                to_celery_error(exc)
                raise
        wrapper = call
    wrapper.__resultstore_celery_errors__ = True
    return wrapper  # type: ignore[no-any-return]


def raises_celery_errors(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap the methods Celery calls in ``namespace`` so their errors are Celery's too.

    Every public function, and the private ones Celery calls, of a host class:
    a resultstore error leaving them is an instance of Celery's class for it
    (:func:`to_celery_error`).  Returns the replacements (name -> wrapper).
    """
    return {name: _translating(value) for name, value in namespace.items()
            if inspect.isfunction(value)
            and (not name.startswith("_") or name in CELERY_PRIVATE_CALLS)}
