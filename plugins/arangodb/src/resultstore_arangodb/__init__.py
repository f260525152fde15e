"""resultstore-arangodb: task results in ArangoDB, document-compatible with Celery's
ArangoDbBackend."""

from .config import ArangoConfig
from .store import ArangoStore

__version__ = "0.1.0"

__all__ = ["ArangoStore", "ArangoConfig", "__version__"]
