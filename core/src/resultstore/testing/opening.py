"""``opened_backends()``: open backends in a test, close them all afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..backend import ResultBackend
from ..connect import connect

__all__ = ["opened_backends"]


@contextmanager
def opened_backends(default_url: str | None = None,
                    **defaults: Any) -> Iterator[Callable[..., ResultBackend]]:
    """Yield ``open(url=default_url, **settings)``; every backend it opened is closed on exit.

    The usual ``make_backend`` fixture of a plugin is then::

        @pytest.fixture
        def make_backend(server_url):
            with opened_backends(server_url) as open_backend:
                yield open_backend
    """
    opened: list[ResultBackend] = []

    def open_backend(url: str | None = None, **settings: Any) -> ResultBackend:
        target = url or default_url
        if target is None:
            raise TypeError("open_backend() needs a URL (no default_url was given)")
        backend = connect(target, **{**defaults, **settings})
        opened.append(backend)
        return backend

    try:
        yield open_backend
    finally:
        for backend in opened:
            backend.close()
