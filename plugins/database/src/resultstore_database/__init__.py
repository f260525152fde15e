"""resultstore-database: task results in Celery's SQL tables (SQLAlchemy 2).

>>> import resultstore
>>> backend = resultstore.connect("db+sqlite://")
>>> backend.mark_as_done("t1", [1, 2])
[1, 2]
>>> backend.get_task_meta("t1")["result"]
[1, 2]
"""

from .config import DatabaseConfig
from .store import DatabaseStore
from .tables import Tables, build_tables

__version__ = "0.1.0"

__all__ = ["DatabaseStore", "DatabaseConfig", "Tables", "build_tables", "__version__"]
