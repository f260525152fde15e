"""Reading a plugin's URL query options and settings: flags, positive numbers, the port.

Every error is :class:`~resultstore.errors.ImproperlyConfigured` and names the plugin
(``owner``), so a plugin's messages read ``"<owner> timeout must be a number, got 'x'"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import SplitResult, parse_qsl

from .errors import ImproperlyConfigured

__all__ = ["flag", "positive_number", "query_options", "url_port"]

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
N = TypeVar("N", int, float)


def flag(owner: str, name: str, value: Any) -> bool:
    """A bool, or ``1/true/yes/on`` / ``0/false/no/off`` in any case."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ImproperlyConfigured(f"{owner} {name} must be true or false, got {value!r}")


def positive_number(owner: str, name: str, value: Any, kind: type[N]) -> N:
    """``kind(value)``, which must be greater than zero."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{owner} {name} must be a number, got {value!r}") from None
    if number <= 0:
        raise ImproperlyConfigured(f"{owner} {name} must be positive, got {value!r}")
    return number


def url_port(owner: str, parts: SplitResult) -> int | None:
    """The URL's port, or ``None`` when it has none."""
    try:
        return parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{owner} URL: the port must be a number.") from None


def query_options(owner: str, query: str, names: Iterable[str],
                  options: dict[str, Any]) -> dict[str, Any]:
    """``options`` updated with the query's ``key=value`` pairs (the URL wins); a key not in
    ``names`` is refused."""
    names = tuple(names)
    for key, value in parse_qsl(query):
        if key not in names:
            raise ImproperlyConfigured(
                f"Unknown {owner}:// URL option {key!r}: options are {', '.join(names)}.")
        options[key] = value
    return options
