"""Lazy access to Celery objects: only called on paths where Celery is the caller.

Importing :mod:`resultstore.celery` never imports Celery; these helpers do,
the first time a Celery-only code path needs an exception class or a helper.
"""

from __future__ import annotations

from typing import Any

from .. import errors

__all__ = ["celery_chord_error", "celery_timeout_error", "to_celery_error", "chord_error_with_cause"]


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
    """Map resultstore's TimeoutError/ChordError to the Celery types callers catch."""
    if isinstance(exc, errors.TimeoutError):
        mapped: BaseException = celery_timeout_error()(str(exc))
    elif isinstance(exc, errors.ChordError):
        mapped = celery_chord_error()(str(exc))
    else:
        return exc
    mapped.__cause__ = exc
    return mapped
