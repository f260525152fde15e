"""The conformance kit on a real RabbitMQ, for the parts that apply to reply-queue results.

Backends made in one test share one reply queue: they are one client, as
every rpc backend of one Celery app in one thread is (``app.thread_oid``).
A result is a message, delivered once, and a read takes every message
waiting on the queue: the kit tests in which a second reader reads a result
the first one already took are rewritten below to send each reader its own
message after the previous read (same assertions).  Tests of things rpc does not have
(saved groups, per-result expiry) are replaced by tests of what it does
instead, or removed; ``plugins/rpc/README.md`` lists each one and why.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from rpc_support import RabbitMQ

import resultstore
from resultstore import states
from resultstore.errors import DecodeError, DecryptionError, NotSupported, SecurityError
from resultstore.testing import ConformanceSuite
from resultstore.testing.suite import KitError

MakeBackend = Callable[..., resultstore.ResultBackend]


class TestRPCConformance(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, make_rpc_backend: MakeBackend) -> MakeBackend:
        return make_rpc_backend

    # -- rewritten: one message per reader (a result is delivered once) ------------------
    def test_transforms_roundtrip_and_refusal(self, make_backend: MakeBackend) -> None:
        settings = {"resultstore_transforms": ["zlib", "hmac-sha256"],
                    "resultstore_signing_key": "k1"}
        writer = make_backend(**settings)

        def sent() -> str:
            task_id = f"t-{uuid.uuid4()}"
            writer.mark_as_done(task_id, {"secret": 1})
            return task_id

        assert make_backend(**settings).get_task_meta(sent())["result"] == {"secret": 1}
        with pytest.raises(DecodeError):
            make_backend().get_task_meta(sent())
        with pytest.raises(SecurityError):
            make_backend(**{**settings, "resultstore_signing_key": "other"}).get_task_meta(sent())

    def test_encrypted_roundtrip_and_refusal(self, make_backend: MakeBackend) -> None:
        pytest.importorskip("cryptography", reason="aes-gcm needs pip install resultstore[encryption]")
        settings = {"resultstore_transforms": ["zlib", "aes-gcm"],
                    "resultstore_encryption_keys": {"k1": b"\x01" * 32}}
        writer = make_backend(**settings)

        def sent(result: object) -> str:
            task_id = f"t-{uuid.uuid4()}"
            writer.mark_as_done(task_id, result)
            return task_id

        assert make_backend(**settings).get_task_meta(sent({"secret": 1}))["result"] == {"secret": 1}
        with pytest.raises(DecodeError):
            make_backend().get_task_meta(sent(1))
        with pytest.raises(DecryptionError):
            make_backend(**{**settings, "resultstore_encryption_keys": {"k1": b"\x02" * 32}}
                         ).get_task_meta(sent(1))

    def test_offloaded_result_roundtrip(self, make_backend: MakeBackend) -> None:
        pytest.skip("rpc:// sends results as broker messages, not stored records: offload does "
                    "not apply (docs/offload.md)")

    def test_pickle_needs_accept(self, make_backend: MakeBackend) -> None:
        writer = make_backend(result_serializer="pickle", result_accept_content=["pickle"])
        mine, theirs = f"t-{uuid.uuid4()}", f"t-{uuid.uuid4()}"
        writer.mark_as_failure(mine, KitError("p"))
        assert type(writer.get_task_meta(mine)["result"]) is KitError
        writer.mark_as_failure(theirs, KitError("p"))
        with pytest.raises(SecurityError):
            make_backend(result_serializer="pickle").get_task_meta(theirs)

    # -- replaced: what rpc does instead ---------------------------------------------------
    def test_group_save_restore_delete(self, backend: resultstore.ResultBackend) -> None:
        """No saved groups: results are messages to one client (Celery raises NotImplementedError)."""
        group_id = f"g-{uuid.uuid4()}"
        with pytest.raises(NotSupported) as raised:
            backend.save_group(group_id, [[group_id, None], []])
        assert isinstance(raised.value, NotImplementedError)
        with pytest.raises(NotSupported):
            backend.get_group_meta(group_id)
        with pytest.raises(NotSupported):
            backend.delete_group(group_id)

    def test_expiry(self, make_backend: MakeBackend, rabbitmq: RabbitMQ) -> None:
        """``result_expires`` is the reply queue's ``x-expires``: an unused queue and its results go."""
        # 6 s: listing the queue (rabbitmqctl boots an Erlang VM) took over 2 s on a loaded
        # machine, and the queue was gone before it could be inspected.
        backend = make_backend(result_expires=6)
        task_id = f"t-{uuid.uuid4()}"
        backend.mark_as_done(task_id, 1)
        queue = backend.store.reply_to  # type: ignore[attr-defined]
        found = rabbitmq.queues()[queue]
        assert ["x-expires", "signedint", 6000] in found["arguments"]
        assert int(found["messages"]) == 1
        deadline = time.monotonic() + 20
        while queue in rabbitmq.queues():
            assert time.monotonic() < deadline, "RabbitMQ kept an unused queue past x-expires"
            time.sleep(0.3)
        assert backend.get_task_meta(task_id)["status"] == states.PENDING

    def test_expires_none_never_expires(self, make_backend: MakeBackend, rabbitmq: RabbitMQ
                                        ) -> None:
        """``result_expires=None``: the reply queue gets no ``x-expires`` (as Celery)."""
        backend = make_backend(result_expires=None)
        assert backend.expires is None
        task_id = f"t-{uuid.uuid4()}"
        backend.mark_as_done(task_id, 1)
        found = rabbitmq.queues()[backend.store.reply_to]  # type: ignore[attr-defined]
        assert not [arg for arg in found["arguments"] if arg[0] == "x-expires"], found
        assert backend.get_task_meta(task_id)["status"] == states.SUCCESS

    #: Not applicable: rpc has no per-result expiry, so no separate one for failures
    #: (``result_failure_expires`` is not read; the queue's ``x-expires`` covers all).
    test_failure_expiry_setting = None  # type: ignore[assignment]
