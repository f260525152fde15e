"""resultstore-consul: task results in Consul's KV store, key-compatible with Celery's
ConsulBackend."""

from .config import ConsulConfig
from .store import ConsulStore

__version__ = "0.1.0"

__all__ = ["ConsulStore", "ConsulConfig", "__version__"]
