"""resultstore-mongodb: task results in MongoDB, document-compatible with Celery's MongoBackend."""

from .config import MongoConfig
from .store import MongoStore

__version__ = "0.1.0"

__all__ = ["MongoStore", "MongoConfig", "__version__"]
