"""resultstore's errors as Celery's: what a Celery user's ``except`` clauses catch.

Under Celery every error a backend raises is an instance of both classes:
resultstore's (``except resultstore.errors.BackendStoreError``) and the class
Celery's own backend raises in the same situation (``except
celery.exceptions.BackendStoreError``).  Each class below inherits both;
:func:`as_celery_error` turns a resultstore error into its twin in place (same
message, attributes, traceback and cause).

This module imports Celery and kombu: only the host imports it, from code
paths Celery calls.

======================  ===================================================
resultstore             also an instance of (what Celery's backend raises)
======================  ===================================================
ImproperlyConfigured    ``celery.exceptions.ImproperlyConfigured``
BackendError            ``celery.exceptions.BackendError``
BackendStoreError       ``celery.exceptions.BackendStoreError``
BackendGetMetaError     ``celery.exceptions.BackendGetMetaError``
TimeoutError            ``celery.exceptions.TimeoutError``
ChordError              ``celery.exceptions.ChordError``
SecurityError           ``celery.exceptions.SecurityError`` and
                        ``kombu.exceptions.ContentDisallowed``
DecodeError             ``kombu.exceptions.DecodeError``
======================  ===================================================
"""

from __future__ import annotations

import threading
from typing import Any

from celery import exceptions as celery_exc
from kombu import exceptions as kombu_exc

from .. import errors

__all__ = ["as_celery_error", "celery_twin"]


def _repr(self: errors.BackendError) -> str:
    """Celery's ``repr`` of backend errors (which cannot format a ``None`` state)."""
    extra = f" state:{self.state or ''}" if isinstance(self, celery_exc.BackendStoreError) else ""
    return f"{Exception.__repr__(self)}{extra} task_id:{self.task_id or ''}"


class ImproperlyConfigured(errors.ImproperlyConfigured, celery_exc.ImproperlyConfigured):
    __doc__ = errors.ImproperlyConfigured.__doc__


class UnknownBackend(errors.UnknownBackend, ImproperlyConfigured):
    __doc__ = errors.UnknownBackend.__doc__


class BackendConflict(errors.BackendConflict, ImproperlyConfigured):
    __doc__ = errors.BackendConflict.__doc__


class PluginImportError(errors.PluginImportError, ImproperlyConfigured):
    __doc__ = errors.PluginImportError.__doc__


class ResultDisabled(errors.ResultDisabled, ImproperlyConfigured):
    __doc__ = errors.ResultDisabled.__doc__


class BackendError(errors.BackendError, celery_exc.BackendError):
    __doc__ = errors.BackendError.__doc__
    __repr__ = _repr


class BackendStoreError(errors.BackendStoreError, celery_exc.BackendStoreError):
    __doc__ = errors.BackendStoreError.__doc__
    __repr__ = _repr


class BackendGetMetaError(errors.BackendGetMetaError, celery_exc.BackendGetMetaError):
    __doc__ = errors.BackendGetMetaError.__doc__
    __repr__ = _repr


class TimeoutError(errors.TimeoutError, celery_exc.TimeoutError):
    __doc__ = errors.TimeoutError.__doc__


class ChordError(errors.ChordError, celery_exc.ChordError):
    __doc__ = errors.ChordError.__doc__


class SecurityError(errors.SecurityError, celery_exc.SecurityError,
                    kombu_exc.ContentDisallowed):
    __doc__ = errors.SecurityError.__doc__


class DecodeError(errors.DecodeError, kombu_exc.DecodeError):
    __doc__ = errors.DecodeError.__doc__


_TWINS: dict[type[BaseException], type[BaseException]] = {
    getattr(errors, cls.__name__): cls
    for cls in (ImproperlyConfigured, UnknownBackend, BackendConflict, PluginImportError,
                ResultDisabled, BackendError, BackendStoreError, BackendGetMetaError,
                TimeoutError, ChordError, SecurityError, DecodeError)
}
_lock = threading.Lock()


def celery_twin(cls: type[BaseException]) -> type[BaseException] | None:
    """The class inheriting ``cls`` and its Celery counterpart, or ``None`` if it has none.

    Subclasses of resultstore's errors (e.g. a plugin's) get a twin made on first use.
    """
    if cls in _TWINS.values():
        return cls
    twin = _TWINS.get(cls)
    if twin is not None or not issubclass(cls, errors.ResultStoreError):
        return twin
    base = next((_TWINS[k] for k in cls.__mro__[1:] if k in _TWINS), None)
    if base is None:
        return None
    with _lock:
        twin = _TWINS.get(cls)
        if twin is None:
            namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__,
                                         "__qualname__": cls.__qualname__,
                                         "__reduce__": _reduce_as(cls)}
            twin = _TWINS[cls] = type(cls.__name__, (cls, base), namespace)
    return twin


def _reduce_as(cls: type[BaseException]) -> Any:
    def __reduce__(self: BaseException) -> Any:  # pickled as the plain resultstore class
        return (_rebuild, (cls, self.args, self.__dict__))
    return __reduce__


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]
             ) -> BaseException:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


def as_celery_error(exc: BaseException) -> BaseException:
    """``exc`` itself, now also an instance of Celery's class for it (when it has one)."""
    twin = celery_twin(type(exc))
    if twin is not None and type(exc) is not twin:
        exc.__class__ = twin  # same layout: only the type changes (message, traceback kept)
    return exc
