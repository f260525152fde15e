"""The conformance kit on a real directory (inotify push on Linux)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import resultstore
from resultstore.testing import ConformanceSuite


class TestFileStore(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, make_file_backend: Callable[..., resultstore.ResultBackend]
                     ) -> Callable[..., resultstore.ResultBackend]:
        return lambda **settings: make_file_backend(**settings)


class TestFileStorePolling(ConformanceSuite):
    """The same kit with the portable polling watcher and without fsync."""

    @pytest.fixture
    def make_backend(self, make_file_backend: Callable[..., resultstore.ResultBackend],
                     file_url: str) -> Callable[..., resultstore.ResultBackend]:
        return lambda **settings: make_file_backend(f"{file_url}?watch=poll&fsync=0", **settings)
