"""resultstore-dynamodb: task results in DynamoDB, item-compatible with Celery's DynamoDBBackend."""

from .store import DynamoDBStore, item_id, key_of
from .url import DynamoDBConfig

__version__ = "0.1.0"

__all__ = ["DynamoDBStore", "DynamoDBConfig", "item_id", "key_of", "__version__"]
