"""resultstore-elasticsearch: task results in Elasticsearch, document-compatible with Celery's
ElasticsearchBackend."""

from .config import ElasticsearchConfig
from .store import ElasticsearchStore

__version__ = "0.1.0"

__all__ = ["ElasticsearchStore", "ElasticsearchConfig", "__version__"]
