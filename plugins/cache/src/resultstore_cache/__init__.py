"""resultstore-cache: task results in memcached, with Celery's CacheBackend keys and values.

>>> import resultstore
>>> backend = resultstore.connect("cache+memory://doctest")
>>> backend.mark_as_done("t1", 7)
7
"""

from .store import CacheStore
from .url import CacheConfig

__version__ = "0.1.0"

__all__ = ["CacheStore", "CacheConfig", "__version__"]
