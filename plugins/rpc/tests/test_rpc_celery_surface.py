"""Celery's public ``RPCBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery
from celery.backends.base import BaseBackend
from celery.backends.rpc import RPCBackend as CeleryRPCBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_rpc.host import RPCBackend


def test_rpc_surface(broker_url: str) -> None:
    app = Celery("surface", set_as_current=False, broker=broker_url)
    ours, theirs = RPCBackend(app=app, url="rpc://"), CeleryRPCBackend(app=app, url="rpc://")
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryRPCBackend) and isinstance(ours, BaseBackend)
        for name in ("auto_delete", "persistent", "supports_native_join", "supports_autoexpire",
                     "oid", "retry_policy"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert (ours.exchange.name, ours.exchange.type) == (theirs.exchange.name,
                                                            theirs.exchange.type)
        assert ours.binding.name == theirs.binding.name
        assert ours.Consumer.auto_declare is theirs.Consumer.auto_declare is False
        assert ours.Queue.can_cache_declaration is theirs.Queue.can_cache_declaration is False
        assert ours.poll(str(uuid.uuid4()))["status"] == "PENDING"
        assert ours.on_reply_declare("t") is theirs.on_reply_declare("t") is None
        with pytest.raises(AttributeError, match="asynchronous result consumer"):
            ours.result_consumer  # noqa: B018 - the access is the test
    finally:
        ours.close()
