"""resultstore-file: task results as files in a directory (``file:///path/to/dir``).

Layout-compatible with Celery's ``FilesystemBackend`` and safe with many worker
processes on one machine::

    import resultstore

    backend = resultstore.connect("file:///var/lib/myapp/results")
    backend.mark_as_done("task-1", {"answer": 42})
"""

from .store import FileStore
from .url import FileOptions, parse_url

__all__ = ["FileStore", "FileOptions", "parse_url"]
__version__ = "0.1.0"
