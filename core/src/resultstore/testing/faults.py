"""Fault injection and call counting around a real store (for tests only)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

__all__ = ["CallCounter", "FlakyStore"]


class CallCounter:
    """Counts calls of the store's methods by name while installed.

    >>> counter = CallCounter(store).install()   # doctest: +SKIP
    >>> counter.calls["mget"]                      # doctest: +SKIP
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self._originals: dict[str, Callable[..., Any]] = {}

    def install(self, names: tuple[str, ...] = ("get", "mget", "set", "set_unless_prefix",
                                                 "delete", "incr", "chord_add", "subscriber",
                                                 "set_many", "scan")) -> CallCounter:
        for name in names:
            original = getattr(self.store, name, None)
            if original is None:
                continue
            self._originals[name] = original

            def counted(*args: Any, __name: str = name, __orig: Any = original, **kw: Any) -> Any:
                self.calls[__name] += 1
                return __orig(*args, **kw)

            setattr(self.store, name, counted)
        return self

    def uninstall(self) -> None:
        for name in self._originals:
            delattr(self.store, name)
        self._originals.clear()

    def __enter__(self) -> CallCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()


class FlakyStore:
    """Makes the next ``failures`` calls of ``method`` raise ``exc`` (a transient error)."""

    def __init__(self, store: Any, method: str, exc: BaseException, failures: int) -> None:
        self.store = store
        self.method = method
        self.exc = exc
        self.remaining = failures
        self.lock = threading.Lock()
        original = getattr(store, method)

        def flaky(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                fail = self.remaining > 0
                self.remaining -= fail
            if fail:
                raise self.exc
            return original(*args, **kwargs)

        setattr(store, method, flaky)

    def restore(self) -> None:
        delattr(self.store, self.method)
