"""resultstore: task result backends as a plugin ecosystem, compatible with Celery.

>>> import resultstore
>>> backend = resultstore.connect("memory://doctest")
>>> backend.mark_as_done("t1", {"answer": 42})
{'answer': 42}
>>> backend.get_task_meta("t1")["status"]
'SUCCESS'
"""

from . import states
from .backend import ResultBackend
from .client import AsyncResult, EagerResult, GroupResult, ResultSet, result_from_tuple
from .config import Settings
from .connect import connect
from .errors import (
    BackendConflict,
    BackendGetMetaError,
    BackendStoreError,
    ChordError,
    DecodeError,
    ImproperlyConfigured,
    ResultStoreError,
    SecurityError,
    TimeoutError,
    UnknownBackend,
)
from .spec import AsyncKeyValueStore, Capability, ChordProgress, KeyValueStore, MetaStore

__version__ = "0.1.0"

__all__ = [
    "states", "ResultBackend", "Settings", "connect", "KeyValueStore", "AsyncKeyValueStore",
    "MetaStore", "Capability", "ChordProgress", "ResultStoreError", "ImproperlyConfigured",
    "UnknownBackend", "BackendConflict", "BackendStoreError", "BackendGetMetaError",
    "DecodeError", "SecurityError", "ChordError", "TimeoutError", "__version__",
    "AsyncResult", "ResultSet", "GroupResult", "EagerResult", "result_from_tuple",
]
