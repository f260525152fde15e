"""What every test kit shares: the ``backend`` fixture and skipping by declaration."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..backend import ResultBackend
from ..spec import Capability

__all__ = ["BackendKit", "MakeBackend", "requires"]

#: The fixture a store's test module provides: ``make_backend(**settings) -> ResultBackend``.
MakeBackend = Callable[..., ResultBackend]


def requires(*capabilities: Capability) -> pytest.MarkDecorator:
    """Mark a kit test as needing store capabilities (skipped when undeclared)."""
    return pytest.mark.resultstore_requires(*capabilities)


class BackendKit:
    """Base of the kits: subclasses (and their users) provide ``make_backend``."""

    @pytest.fixture
    def backend(self, make_backend: MakeBackend) -> ResultBackend:
        return make_backend()

    @pytest.fixture(autouse=True)
    def _skip_undeclared(self, request: pytest.FixtureRequest, make_backend: MakeBackend) -> None:
        marker = request.node.get_closest_marker("resultstore_requires")
        if marker is None:
            return
        declared = make_backend().capabilities
        missing = [c.value for c in marker.args if c not in declared]
        if missing:
            pytest.skip(f"store does not declare {missing}")
