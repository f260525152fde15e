"""resultstore-couchbase: Celery-compatible task results in Couchbase, on the couchbase SDK 4."""

from .config import CouchbaseConfig
from .store import CouchbaseStore

__all__ = ["CouchbaseConfig", "CouchbaseStore", "__version__"]
__version__ = "0.1.0"
