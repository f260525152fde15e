"""resultstore-cassandra: task results in Celery's Cassandra table (Cassandra, ScyllaDB, Astra).

>>> import resultstore
>>> backend = resultstore.connect(  # doctest: +SKIP
...     "cassandra://", cassandra_servers=["10.0.0.1"], cassandra_keyspace="results",
...     cassandra_table="celery_results")
"""

from .config import CassandraConfig
from .store import CassandraStore

__version__ = "0.1.0"

__all__ = ["CassandraStore", "CassandraConfig", "__version__"]
