"""resultstore-gcs: Celery-compatible task results in Google Cloud Storage (``gs://``)."""

from .config import GCSConfig
from .store import GCSStore

__all__ = ["GCSConfig", "GCSStore"]
__version__ = "0.1.0"
