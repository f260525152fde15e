"""The class Celery loads for ``couchbase://`` (entry point in ``celery.result_backends``)."""

from __future__ import annotations

from typing import Any

from resultstore.celery import CeleryBackend
from resultstore.celery.surface import StoreAttribute, celery_bases

from .store import CouchbaseStore

__all__ = ["CouchbaseBackend"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CouchbaseBackend(CeleryBackend, *celery_bases(  # type: ignore[misc]
        "celery.backends.couchbase:CouchbaseBackend", "celery.backends.base:BaseBackend")):
    """Replaces Celery's ``CouchbaseBackend`` (an instance of it too, with Celery installed).

    Celery's attributes read the configuration in use; ``connection`` is the SDK collection
    the results live in, as Celery's; keys are ``str``, as Celery's (``key_t = str``).
    """

    resultstore_store = CouchbaseStore
    host = StoreAttribute("config.host")
    port = StoreAttribute("config.port")
    bucket = StoreAttribute("config.bucket")
    username = StoreAttribute("config.username")
    password = StoreAttribute("config.password")
    #: Seconds per key/value operation (Celery declares 2.5 and never uses it).
    timeout = StoreAttribute("config.timeout")
    #: The SDK 4 ``Collection`` (Celery's ``bucket.default_collection()``).
    connection = StoreAttribute("collection")
    quiet = False
    supports_autoexpire = True
    key_t = staticmethod(_text)  # type: ignore[assignment]

    @property
    def task_keyprefix(self) -> str:  # type: ignore[override]
        return _text(super().task_keyprefix)

    @property
    def group_keyprefix(self) -> str:  # type: ignore[override]
        return _text(super().group_keyprefix)

    @property
    def chord_keyprefix(self) -> str:  # type: ignore[override]
        return _text(super().chord_keyprefix)

    def get_key_for_task(self, task_id: Any, key: str | bytes = "") -> str:  # type: ignore[override]
        return self._key(self.task_keyprefix, "task_id", task_id, key)

    def get_key_for_group(self, group_id: Any, key: str | bytes = "") -> str:  # type: ignore[override]
        return self._key(self.group_keyprefix, "group_id", group_id, key)

    def get_key_for_chord(self, group_id: Any, key: str | bytes = "") -> str:  # type: ignore[override]
        return self._key(self.chord_keyprefix, "group_id", group_id, key)

    @staticmethod
    def _key(prefix: str, what: str, ident: Any, key: str | bytes) -> str:
        """Celery's ``KeyValueStoreBackend`` key with ``key_t = str`` (``ValueError`` for no id)."""
        if not ident:
            raise ValueError(f"{what} must not be empty. Got {ident} instead.")
        return prefix + _text(ident) + _text(key)
