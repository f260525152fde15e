"""The bridge from the driver's ResponseFuture to asyncio (all pages, errors, closed loops)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from resultstore_cassandra.aio import wait


class PagedFuture:
    """A ResponseFuture's callback protocol: pages arrive on another thread."""

    def __init__(self, pages: list[list[int]], error: BaseException | None = None) -> None:
        self.pages, self.error = list(pages), error
        self.threads: set[str] = set()
        self.callback: Callable[[Any], None] | None = None
        self.errback: Callable[[BaseException], None] | None = None

    @property
    def has_more_pages(self) -> bool:
        return bool(self.pages)

    def _deliver(self) -> None:
        def run() -> None:
            self.threads.add(threading.current_thread().name)
            if self.error is not None:
                assert self.errback is not None
                self.errback(self.error)
            else:
                assert self.callback is not None
                self.callback(self.pages.pop(0))

        threading.Thread(target=run, name="driver-io").start()

    def add_callbacks(self, callback: Callable[[Any], None],
                      errback: Callable[[BaseException], None]) -> None:
        self.callback, self.errback = callback, errback
        self._deliver()

    def start_fetching_next_page(self) -> None:
        self._deliver()


def test_every_page_reaches_the_loop() -> None:
    future = PagedFuture([[1, 2], [3], [4, 5]])

    async def main() -> list[int]:
        return await wait(future)

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]
    assert future.threads == {"driver-io"}


def test_errors_are_raised_in_the_coroutine() -> None:
    async def main() -> Any:
        return await wait(PagedFuture([[1]], error=TimeoutError("slow replica")))

    with pytest.raises(TimeoutError, match="slow replica"):
        asyncio.run(main())
