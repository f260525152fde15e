"""The duck-typed backend class Celery instantiates as ``cls(app=app, url=url)``."""

from __future__ import annotations

from typing import Any, ClassVar

from .. import states
from ..backend import ResultBackend
from ..config import Settings
from ..spec import KeyValueStore, MetaStore

__all__ = ["CeleryBackend"]


class CeleryBackend:
    """Base of every plugin's Celery host class; subclasses set ``resultstore_store``."""

    #: The store class this host class serves (set by each plugin).
    resultstore_store: ClassVar[type[KeyValueStore] | type[MetaStore]]
    #: URL used when Celery passes none (``result_backend = 'pkg.mod:Class'``).
    default_url: ClassVar[str] = ""

    READY_STATES = states.READY_STATES
    UNREADY_STATES = states.UNREADY_STATES
    EXCEPTION_STATES = states.EXCEPTION_STATES

    def __init__(self, app: Any = None, url: str | None = None, **kwargs: Any) -> None:
        self.app = app
        conf = getattr(app, "conf", None)
        self.url = url or kwargs.pop("url", None) or self.default_url
        self.settings = Settings(conf, **kwargs)
        store = self.resultstore_store.from_url(self.url, self.settings)
        self.backend = ResultBackend(store, self.settings, url=self.url)
        self.thread_safe = bool(self.settings["result_backend_thread_safe"])

    def as_uri(self, include_password: bool = False) -> str:
        return self.backend.as_uri(include_password)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.url))


def _rebuild(cls: type[CeleryBackend], url: str) -> CeleryBackend:
    from celery import current_app  # only reachable when Celery unpickles a result

    return cls(app=current_app._get_current_object(), url=url)
