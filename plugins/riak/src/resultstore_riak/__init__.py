"""resultstore-riak: task results in Riak KV over its HTTP API, in the bucket/key layout of
Celery's former RiakBackend."""

from .config import RiakConfig
from .store import RiakStore

__version__ = "0.1.0"

__all__ = ["RiakStore", "RiakConfig", "__version__"]
