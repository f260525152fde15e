"""resultstore-s3: Celery-compatible task results in Amazon S3 (``s3://``)."""

from .config import S3Config
from .store import EXPIRES_METADATA, S3Store

__all__ = ["S3Config", "S3Store", "EXPIRES_METADATA"]
__version__ = "0.1.0"
