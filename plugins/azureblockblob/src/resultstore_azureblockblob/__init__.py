"""resultstore-azureblockblob: Celery-compatible task results in Azure Blob Storage."""

from .config import AzureConfig, redact_connection_string
from .store import EXPIRES_METADATA, AzureBlockBlobStore

__all__ = ["AzureConfig", "AzureBlockBlobStore", "EXPIRES_METADATA", "redact_connection_string"]
__version__ = "0.1.0"
