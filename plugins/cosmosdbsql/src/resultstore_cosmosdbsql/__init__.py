"""resultstore-cosmosdbsql: task results in Azure Cosmos DB for NoSQL, document-compatible with
Celery's CosmosDBSQLBackend."""

from .config import CosmosConfig
from .store import CosmosStore

__version__ = "0.1.0"

__all__ = ["CosmosStore", "CosmosConfig", "__version__"]
