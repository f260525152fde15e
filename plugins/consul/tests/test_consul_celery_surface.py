"""Celery's public ``ConsulBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.backends.base import BaseBackend, KeyValueStoreBackend
from celery.backends.consul import ConsulBackend as CeleryConsulBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_consul.host import ConsulBackend


@pytest.mark.parametrize("with_path", [True, False])
def test_consul_surface(consul_server: str, consul_url: str, with_path: bool) -> None:
    url = consul_url if with_path else consul_server
    app = Celery("surface", set_as_current=False)
    ours = ConsulBackend(app=app, url=url)
    theirs = CeleryConsulBackend(app=app, url=url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryConsulBackend)
        assert isinstance(ours, KeyValueStoreBackend) and isinstance(ours, BaseBackend)
        for name in ("hostname", "port", "path", "consistency"):
            assert getattr(ours, name) == getattr(theirs, name), name
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert theirs.decode(theirs.get(key))["result"] == 5
        for name in ("client", "one_client", "consul"):
            with pytest.raises(AttributeError, match="httpx"):
                getattr(ours, name)
    finally:
        ours.backend.close()


def test_consul_surface_without_python_consul() -> None:
    """Celery's module imports without python-consul: ours is still an instance of its class and
    never reaches Celery's constructor (which would raise for the missing library)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['consul'] = None\n"
            "from celery import Celery\n"
            "from celery.backends.consul import ConsulBackend as Theirs\n"
            "from resultstore_consul.host import ConsulBackend\n"
            "b = ConsulBackend(app=Celery(set_as_current=False), url='consul://h:1/p')\n"
            "assert isinstance(b, Theirs) and b.path == 'p' and not hasattr(b, 'consul')\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
