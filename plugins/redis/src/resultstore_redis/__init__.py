"""resultstore-redis: Redis, Redis Sentinel and Redis Cluster result storage.

>>> import resultstore
>>> backend = resultstore.connect("redis://localhost:6379/0")   # doctest: +SKIP
>>> backend.mark_as_done("t1", 42)                               # doctest: +SKIP
"""

from .config import RedisOptions, parse_options
from .store import MAX_VALUE_SIZE, ChordClaimLost, RedisStore, UntaggedClusterStore
from .subscriber import RedisSubscriber

__all__ = ["RedisStore", "UntaggedClusterStore", "RedisOptions", "RedisSubscriber", "ChordClaimLost",
           "parse_options", "MAX_VALUE_SIZE"]
