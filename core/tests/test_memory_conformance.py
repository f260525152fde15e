"""The conformance kit on the built-in memory store."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

import resultstore
from resultstore.testing import ConformanceSuite


class TestMemoryStore(ConformanceSuite):
    @pytest.fixture
    def make_backend(self) -> Iterator[Callable[..., resultstore.ResultBackend]]:
        namespace = f"kit-{uuid.uuid4()}"
        yield lambda **settings: resultstore.connect(f"memory://{namespace}", **settings)
