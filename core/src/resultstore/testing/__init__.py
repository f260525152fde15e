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
            with opened_backends(my_server_url) as open_backend:
                yield open_backend

Tests that need a capability the store does not declare are skipped by
declaration (``requires(Capability.X)``), never by catching errors.
"""

from .faults import CallCounter, FlakyStore
from .kit import requires
from .opening import opened_backends
from .outage import OutageSuite, Proxied
from .proxy import FaultProxy
from .suite import ConformanceSuite

__all__ = ["ConformanceSuite", "requires", "FlakyStore", "CallCounter", "opened_backends",
           "OutageSuite", "Proxied", "FaultProxy"]
