"""resultstore-couchdb: Celery-compatible task results in CouchDB, over httpx."""

from .config import CouchDBConfig
from .docs import CouchDBHTTPError
from .store import CouchDBStore

__all__ = ["CouchDBConfig", "CouchDBHTTPError", "CouchDBStore", "__version__"]
__version__ = "0.1.0"
