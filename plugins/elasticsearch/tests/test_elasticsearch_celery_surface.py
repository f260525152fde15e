"""Celery's public ``ElasticsearchBackend`` surface on ours: every name, with Celery's meaning."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from celery import Celery
from celery.backends.base import BaseBackend, KeyValueStoreBackend
from celery.backends.elasticsearch import ElasticsearchBackend as CeleryElasticsearchBackend

from resultstore.testing.celery_surface import check_celery_surface
from resultstore_elasticsearch.host import ElasticsearchBackend


def test_elasticsearch_surface(es_url: str) -> None:
    app = Celery("surface", set_as_current=False)
    app.conf.update(elasticsearch_timeout=7, elasticsearch_max_retries=2,
                    elasticsearch_retry_on_timeout=True)
    ours = ElasticsearchBackend(app=app, url=es_url)
    theirs = CeleryElasticsearchBackend(app=app, url=es_url)
    try:
        check_celery_surface(ours, theirs)
        assert isinstance(ours, CeleryElasticsearchBackend)
        assert isinstance(ours, KeyValueStoreBackend) and isinstance(ours, BaseBackend)
        for name in ("index", "doc_type", "scheme", "host", "port", "username", "password",
                     "es_retry_on_timeout", "es_timeout", "es_max_retries",
                     "es_save_meta_as_text"):
            assert getattr(ours, name) == getattr(theirs, name), name
        # Celery 5.7 builds its client with elasticsearch 8's arguments (9 refuses `timeout`)
        theirs._server = ours.server
        ours.store_result("surface-1", 5, "SUCCESS")
        key = ours.get_key_for_task("surface-1")
        assert key == theirs.get_key_for_task("surface-1")
        assert theirs.decode(theirs.get(key))["result"] == 5
        # server is the elasticsearch client, as Celery's
        assert ours.server.get(index=ours.index, id=key.decode())["found"]
    finally:
        ours.backend.close()


def test_elasticsearch_surface_credentials(es_url: str) -> None:
    """User and password from the URL as Celery reads them; the password never in a repr."""
    parts = urlsplit(es_url)
    url = urlunsplit((parts.scheme, f"elastic:s3cr3t-pw@{parts.netloc}", parts.path, "", ""))
    app = Celery("surface", set_as_current=False)
    ours = ElasticsearchBackend(app=app, url=url)
    theirs = CeleryElasticsearchBackend(app=app, url=url)
    try:
        assert (ours.username, ours.password) == (theirs.username, theirs.password)
        assert ours.password == "s3cr3t-pw" and "s3cr3t" not in repr(ours.password)
    finally:
        ours.backend.close()
