"""resultstore-rpc: task results as AMQP reply messages, wire-compatible with Celery's RPCBackend.

::

    import resultstore
    backend = resultstore.connect("rpc://", broker_url="amqp://guest@localhost//")

With Celery, keep ``result_backend = "rpc://"``: the ``rpc`` entry point makes
Celery load :class:`~resultstore_rpc.host.RPCBackend` instead of its own.
"""

from .buffer import ReplyBuffer
from .config import RPCOptions
from .host import RPCBackend
from .store import RPCStore

__all__ = ["RPCStore", "RPCBackend", "RPCOptions", "ReplyBuffer"]
