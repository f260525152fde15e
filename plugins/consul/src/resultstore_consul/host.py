"""The Celery host class (entry point ``consul``).

With Celery installed, :class:`ConsulBackend` is an instance of Celery's
``celery.backends.consul.ConsulBackend`` too; every public name of Celery's class
resolves to the code below or to core's (``tests/test_consul_celery_surface.py``).
"""

from __future__ import annotations

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import CeleryDifference, StoreAttribute, celery_bases

from .store import ConsulStore

__all__ = ["ConsulBackend"]

_CLIENT = ("resultstore-consul speaks Consul's HTTP API through httpx, not python-consul: "
           "there is no consul.Consul client (backend.backend.store.client is the httpx client, "
           "one per process, as Celery's one_client=1)")


class ConsulBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.consul:ConsulBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``consul://`` URLs."""

    resultstore_store = ConsulStore

    hostname = StoreAttribute("config.host")
    port = StoreAttribute("config.port")
    #: The key prefix (the URL's path: keys are ``<path>/<key>``), ``None`` without one.
    path = StoreAttribute("config.path")
    #: Read consistency: ``consistent`` (Celery's), ``stale`` or ``default``.
    consistency = StoreAttribute("config.consistency")
    client = CeleryDifference(_CLIENT)
    one_client = CeleryDifference(_CLIENT)
    consul = CeleryDifference(_CLIENT)
