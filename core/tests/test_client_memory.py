"""The client kit on ``memory://``: push + native asyncio, and poll + thread offload."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

import resultstore
from resultstore import Capability, Settings
from resultstore.backend import ResultBackend
from resultstore.stores.memory import MemoryStore
from resultstore.testing.client_suite import ClientSuite


class PollingMemoryStore(MemoryStore):
    """The memory store declaring neither push nor native asyncio (exercises the fallbacks)."""

    capabilities = MemoryStore.capabilities - {Capability.SUBSCRIBE, Capability.AIO}


class TestClientMemory(ClientSuite):
    @pytest.fixture
    def make_backend(self) -> Iterator[Callable[..., ResultBackend]]:
        namespace = f"client-{uuid.uuid4()}"
        yield lambda **settings: resultstore.connect(f"memory://{namespace}", **settings)


class TestClientMemoryPolling(ClientSuite):
    many_waiters = 1_000

    @pytest.fixture
    def make_backend(self) -> Iterator[Callable[..., ResultBackend]]:
        namespace = f"client-poll-{uuid.uuid4()}"
        yield lambda **settings: ResultBackend(PollingMemoryStore(namespace), Settings(**settings))
