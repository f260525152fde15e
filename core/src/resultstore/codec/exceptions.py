"""Exceptions to and from Celery's ``{exc_type, exc_message, exc_module}`` dict.

Decoding treats the dict as hostile: it only looks classes up in modules that
are already imported (never imports), and looks them up statically (the
module's and classes' ``__dict__``), so no module ``__getattr__`` (lazy
loaders: ``celery``, ``concurrent.futures``) and no descriptor runs.  It
refuses anything that is not a ``BaseException`` subclass, and synthesizes a
stand-in class when the real one is missing, so the caller still gets an
exception of the right name.  Classes that are not ``Exception`` subclasses
(``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``...) are rebuilt as
stand-ins too: a stored value must never end the process reading it.
"""

from __future__ import annotations

import inspect
import pickle
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import SecurityError

__all__ = ["exception_to_dict", "exception_to_python", "ensure_serializable", "standin_class",
           "loaded_or_standin", "pickleable_exception"]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MAX_NAME = 256
#: Celery's module for stand-ins of exceptions that carry no module.
_NO_MODULE = "celery.backends.base"
#: Distinct stand-in classes kept (least recently used dropped first): hostile
#: payloads with ever-new names must not grow memory without bound.
MAX_STANDINS = 1024
_STANDINS: OrderedDict[tuple[str, str], type[Exception]] = OrderedDict()
_STANDINS_LOCK = threading.Lock()


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not break encoding
        return f"<unrepresentable {type(value).__name__}>"


def ensure_serializable(items: tuple[Any, ...], encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """Keep items ``encode`` accepts; replace the others with their repr (as Celery)."""
    safe = []
    for item in items:
        try:
            encode(item)
            safe.append(item)
        except Exception:  # noqa: BLE001 - any failure means "not serializable"
            safe.append(_safe_repr(item))
    return tuple(safe)


def exception_to_dict(exc: BaseException, encode: Callable[[Any], Any]) -> dict[str, Any]:
    """Celery's ``prepare_exception`` for non-pickle serializers."""
    cls = type(exc)
    return {
        "exc_type": getattr(cls, "__qualname__", cls.__name__),
        "exc_message": ensure_serializable(exc.args, encode),
        "exc_module": cls.__module__,
    }


def pickleable_exception(exc: BaseException) -> BaseException:
    """Return ``exc`` if it pickles, else a plain Exception carrying its repr."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - unpicklable for any reason
        return Exception(f"{type(exc).__module__}.{type(exc).__qualname__}: {_safe_repr(exc)}")
    return exc


def standin_class(name: str, module: str) -> type[Exception]:
    """An ``Exception`` subclass named ``name`` in ``module``.

    Cached (the :data:`MAX_STANDINS` most recently used), so equal names give
    the same class.
    """
    key = (module, name)
    with _STANDINS_LOCK:
        cls = _STANDINS.get(key)
        if cls is not None:
            _STANDINS.move_to_end(key)
            return cls
        short = name.rsplit(".", 1)[-1]
        cls = type(short, (Exception,), {"__module__": module, "__qualname__": name,
                                         "__resultstore_standin__": True})
        _STANDINS[key] = cls
        if len(_STANDINS) > MAX_STANDINS:
            _STANDINS.popitem(last=False)
        return cls


def _find_class(module_name: str, qualname: str) -> Any:
    """``module_name.qualname`` from an already-imported module, running no code of it.

    ``inspect.getattr_static`` reads ``__dict__`` entries only: no module
    ``__getattr__`` (lazy imports), no descriptors, no metaclass hooks.
    """
    found: Any = sys.modules.get(module_name)  # never import: only modules already loaded
    for part in qualname.split("."):
        if found is None:
            return None
        try:
            found = inspect.getattr_static(found, part)
        except AttributeError:
            return None
    return found


def _check_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_NAME or not _DOTTED.match(value):
        raise SecurityError(
            f"Refusing exception payload: {field} must be a dotted Python name, "
            f"got {_safe_repr(value)[:80]}"
        )
    return value


def exception_to_python(exc: Any) -> BaseException | None:
    """Rebuild an exception from its stored dict, safely (Celery's rules, stricter names)."""
    if not exc:
        return None
    if isinstance(exc, BaseException):
        return exc
    if not isinstance(exc, dict):
        try:
            exc = dict(exc)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"A stored exception must be a dict with exc_type/exc_message/exc_module, "
                f"got {type(exc).__name__}"
            ) from err
    if "exc_type" not in exc:
        raise ValueError("Exception information must include the exception type (exc_type).")
    exc_type = _check_name(exc["exc_type"], "exc_type")
    exc_module = exc.get("exc_module")
    exc_msg = exc.get("exc_message", "")

    cls: Any
    if exc_module is None:
        cls = standin_class(exc_type, _NO_MODULE)
    else:
        exc_module = _check_name(exc_module, "exc_module")
        cls = _find_class(exc_module, exc_type)
        if cls is None:
            cls = standin_class(exc_type, exc_module)

    if not isinstance(cls, type) or not issubclass(cls, BaseException):
        shown = exc_type if exc_module is None else f"{exc_module}.{exc_type}"
        raise SecurityError(
            f"Expected an exception class, got {shown} with payload {_safe_repr(exc_msg)[:200]}"
        )
    if not issubclass(cls, Exception):  # SystemExit & co. would end the reader
        cls = standin_class(exc_type, exc_module or _NO_MODULE)
    built: BaseException
    try:
        built = cls(*exc_msg) if isinstance(exc_msg, (tuple, list)) else cls(exc_msg)
    except Exception:  # noqa: BLE001 - constructor rejected the stored args
        return Exception(f"{cls}({_safe_repr(exc_msg)[:200]})")
    return built


def loaded_or_standin(name: str, module: str) -> type[Exception]:
    """``module.name`` if that module is already loaded and holds such an Exception class
    (so pickle writes a reference Celery's readers resolve), else :func:`standin_class`."""
    cls = _find_class(module, name)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return standin_class(name, module)
