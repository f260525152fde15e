"""The Celery host class (entry point ``elasticsearch``).

With Celery installed, :class:`ElasticsearchBackend` is an instance of Celery's
``celery.backends.elasticsearch.ElasticsearchBackend`` too; every public name of
Celery's class resolves to the code below or to core's
(``tests/test_elasticsearch_celery_surface.py``).
"""

from __future__ import annotations

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases

from .store import ElasticsearchStore

__all__ = ["ElasticsearchBackend"]


class ElasticsearchBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.elasticsearch:ElasticsearchBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``elasticsearch://`` and ``elasticsearch+https://`` URLs."""

    resultstore_store = ElasticsearchStore

    #: The ``elasticsearch.Elasticsearch`` client, as Celery's ``server``.
    server = StoreAttribute("client")
    index = StoreAttribute("config.index")
    doc_type = StoreAttribute("config.doc_type")
    scheme = StoreAttribute("config.scheme")
    host = StoreAttribute("config.host")
    port = StoreAttribute("config.port")
    username = StoreAttribute("config.username")
    #: The password sent with Basic auth (a :class:`~resultstore.masking.Secret`: ``**`` in reprs).
    password = StoreAttribute("config.password", secret=True)
    es_retry_on_timeout = StoreAttribute("config.retry_on_timeout")
    es_timeout = StoreAttribute("config.timeout")
    es_max_retries = StoreAttribute("config.max_retries")
    es_save_meta_as_text = StoreAttribute("config.save_meta_as_text")
