"""The conformance kit: one base class every store's test module inherits.

A plugin provides a single fixture, ``make_backend``, returning a factory that
opens a :class:`~resultstore.backend.ResultBackend` on the real server with
extra settings::

    import pytest
    import resultstore
    from resultstore.testing import ConformanceSuite

    class TestMyStore(ConformanceSuite):
        @pytest.fixture
        def make_backend(self, my_server_url):
            opened = []
            def make(**settings):
                backend = resultstore.connect(my_server_url, **settings)
                opened.append(backend)
                return backend
            yield make
            for backend in opened:
                backend.close()

Tests that need a capability the store does not declare are skipped by
declaration (``requires(Capability.X)``), never by catching errors.
"""

from .faults import CallCounter, FlakyStore
from .suite import ConformanceSuite, requires

__all__ = ["ConformanceSuite", "requires", "FlakyStore", "CallCounter"]
