"""resultstore-azureblockblob: Celery-compatible task results in Azure Blob Storage."""

from .config import AzureConfig
from .store import EXPIRES_METADATA, AzureBlockBlobStore

__all__ = ["AzureConfig", "AzureBlockBlobStore", "EXPIRES_METADATA"]
__version__ = "0.1.0"
