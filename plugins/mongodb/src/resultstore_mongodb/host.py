"""The Celery host class (entry point ``mongodb``).

With Celery installed, :class:`MongoBackend` is an instance of Celery's
``celery.backends.mongodb.MongoBackend`` too; every public name of Celery's
class resolves to the code below or to core's (``tests/test_mongodb_celery_surface.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_text, secret_values

from .config import MongoConfig
from .store import MongoStore

__all__ = ["MongoBackend"]


class MongoBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.mongodb:MongoBackend", "celery.backends.base:BaseBackend")):
    """Celery loads this for ``mongodb://`` and ``mongodb+srv://`` URLs."""

    resultstore_store = MongoStore
    #: Celery's MongoDB backend has ``cleanup`` (``celery beat``'s ``backend_cleanup``) and no
    #: server-side expiry; resultstore's has both (TTL indexes), but keeps Celery's flag so
    #: that beat still schedules the cleanup.
    supports_autoexpire = False
    #: Celery's default ``maxPoolSize`` (a URL's ``maxPoolSize`` or the settings' ``max_pool_size``
    #: override it: ``options['maxPoolSize']`` is the one in use).
    max_pool_size = 10
    #: The pymongo ``Database`` results live in (``database`` in ``mongodb_backend_settings``).
    database = StoreAttribute("tasks.database")
    #: The pymongo ``Collection`` of task results (``taskmeta_collection``).
    collection = StoreAttribute("tasks")
    #: The pymongo ``Collection`` of group results (``groupmeta_collection``).
    group_collection = StoreAttribute("groups")
    database_name = StoreAttribute("config.database")
    taskmeta_collection = StoreAttribute("config.taskmeta_collection")
    groupmeta_collection = StoreAttribute("config.groupmeta_collection")
    user = StoreAttribute("config.user")
    #: The password pymongo gets (a :class:`~resultstore.masking.Secret`: ``**`` in reprs).
    password = StoreAttribute("config.password", secret=True)

    @property
    def _mongo_config(self) -> MongoConfig:
        store = self.backend.store
        assert isinstance(store, MongoStore)
        return store.config

    @property
    def _backend_settings(self) -> Mapping[str, Any]:
        conf = self.settings.get("mongodb_backend_settings")
        return conf if isinstance(conf, Mapping) else {}

    def _uri_data(self) -> dict[str, Any]:
        """pymongo's parse of the URL, as Celery's constructor makes it (resolves ``+srv``)."""
        from pymongo import uri_parser
        from pymongo.errors import PyMongoError

        config = self._mongo_config
        try:
            return dict(uri_parser.parse_uri(config.url))
        except (ValueError, PyMongoError) as exc:  # pymongo's message may quote the URL: never its password
            raise ImproperlyConfigured(f"MongoDB URL {config.as_uri()!r}: "
                                       f"{mask_text(str(exc), config.secrets())}") from None

    @property
    def host(self) -> Any:
        """``host`` of ``mongodb_backend_settings`` (Celery's default ``'localhost'``)."""
        return self._backend_settings.get("host", "localhost")

    @property
    def port(self) -> Any:
        """``port`` of ``mongodb_backend_settings`` (Celery's default 27017)."""
        return self._backend_settings.get("port", 27017)

    @property
    def mongo_host(self) -> Any:
        """The URL's hosts as ``['host:port', ...]``; ``None`` when the settings give
        ``host``/``port``; their ``mongo_host`` when given (Celery's precedence)."""
        conf = self._backend_settings
        if "mongo_host" in conf:
            return conf["mongo_host"]
        if "host" in conf or "port" in conf:
            return None
        return [f"{host}:{port}" for host, port in self._uri_data()["nodelist"]]

    @property
    def options(self) -> dict[str, Any]:
        """The ``MongoClient`` options besides hosts and credentials: ``maxPoolSize``, the
        URL's options, ``mongodb_backend_settings``' (secret-named values are
        :class:`~resultstore.masking.Secret` s)."""
        config = self._mongo_config
        in_url = self._uri_data()["options"] if config.hosts is None else {}
        return secret_values({**in_url, **config.options})

    @property
    def expires_delta(self) -> dt.timedelta | None:
        """``result_expires`` as a ``timedelta`` (``None``: results never expire)."""
        expires = self.backend.expires
        return None if expires is None else dt.timedelta(seconds=expires)

