"""The duck-typed backend class Celery instantiates as ``cls(app=app, url=url)``.

:class:`CeleryBackend` implements every method and attribute Celery 5.7 uses
on a result backend (``shared/spec/celery-host.md`` sections 2 and 6) on top of
one core :class:`~resultstore.backend.ResultBackend`.  Plugins subclass it and
set ``resultstore_store``.  When Celery is installed, the class also inherits
Celery's ``BaseBackend`` (after resultstore's own bases: every name Celery's
class has resolves to resultstore's code, see :mod:`.surface`), so
``isinstance(app.backend, celery.backends.base.BaseBackend)`` holds; without
Celery it inherits nothing of it and still imports.
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from .. import states
from ..backend import ResultBackend
from ..codec import pending_meta
from ..config import Settings
from ..errors import BackendError
from ..errors import TimeoutError as ResultStoreTimeoutError
from ..spec import Capability, KeyValueStore, MetaStore
from ..stores.disabled import DisabledStore
from ..tls import is_certificate_error
from ..waiting import Waiter, waiter
from ._compat import celery_timeout_error, raises_celery_errors
from .chords import ChordMixin
from .failures import FailureMixin
from .surface import SurfaceMixin, celery_bases

__all__ = ["CeleryBackend"]

#: Celery constructor keywords -> setting names (``Backend.__init__``).
_KWARG_SETTINGS = {
    "serializer": "result_serializer",
    "max_cached_results": "result_cache_max",
    "accept": "result_accept_content",
    "expires": "result_expires",
}

_EAGER_WARNING = ("Results are not stored in backend and should not be retrieved when "
                  "task_always_eager is enabled, unless task_store_eager_result is enabled.")


class CeleryBackend(SurfaceMixin, ChordMixin, FailureMixin,
                    *celery_bases("celery.backends.base:BaseBackend")):  # type: ignore[misc]
    """Base of every plugin's Celery host class; subclasses set ``resultstore_store``.

    ::

        class FileBackend(CeleryBackend):
            resultstore_store = FileStore

    Registered as ``file = "resultstore_file.host:FileBackend"`` in the
    ``celery.result_backends`` entry-point group, or named directly:
    ``result_backend = "resultstore_file.host:FileBackend"`` (then the store
    opens ``default_url``, or ``resultstore_url`` from the app's settings).
    """

    #: The store class this host class serves (set by each plugin).
    resultstore_store: ClassVar[type[KeyValueStore] | type[MetaStore]]
    #: URL used when Celery passes none (``result_backend = 'pkg.mod:Class'``).
    default_url: ClassVar[str] = ""

    READY_STATES = states.READY_STATES
    UNREADY_STATES = states.UNREADY_STATES
    EXCEPTION_STATES = states.EXCEPTION_STATES

    #: ``join_native`` uses :meth:`iter_native` (one batched read per pass).
    supports_native_join = True
    #: Waiting happens in :meth:`wait_for_pending`, not through vine promises.
    is_async = False
    #: Celery's per-item sleep for the deprecated ``ResultSet.iterate``.
    subpolling_interval: float | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, wrapper in raises_celery_errors(vars(cls)).items():
            setattr(cls, name, wrapper)

    def __init__(self, app: Any = None, url: str | None = None, **kwargs: Any) -> None:
        self.app = app
        conf = getattr(app, "conf", None)
        options = {_KWARG_SETTINGS.get(k, k): v for k, v in kwargs.items() if v is not None}
        self.settings = Settings(conf, **options)
        self.url = url or self.settings.get("resultstore_url") or self.default_url
        store = self.resultstore_store.from_url(self.url, self.settings)
        self.backend = ResultBackend(store, self.settings, url=self.url)
        if app is not None and callable(getattr(app, "now", None)):
            self.backend.now = app.now  # type: ignore[method-assign]  # Celery's date_done clock
        self.thread_safe = bool(self.settings["result_backend_thread_safe"])
        self.max_retries = float(self.settings["result_backend_max_retries"])
        persistent = self.settings.get("result_persistent")
        self.persistent = True if persistent is None else bool(persistent)
        self.expires = self.backend.expires
        self.serializer = self.backend.codec.serializer.name
        self.content_type = self.backend.codec.serializer.content_type
        self.accept = self.backend.codec.accept
        # Celery's remaining public instance attributes, with its meanings
        serializer = self.backend.codec.serializer
        self.content_encoding = "utf-8" if serializer.name in ("json", "yaml") else "binary"
        self.encoder = serializer.dumps
        self.compression = self.prepare_compression(self.settings["result_compression"])
        self.failure_expires = self.backend.failure_expires
        self.always_retry = bool(self.settings["result_backend_always_retry"])
        self.base_sleep_between_retries_ms = self.settings[
            "result_backend_base_sleep_between_retries_ms"]
        self.max_sleep_between_retries_ms = self.settings[
            "result_backend_max_sleep_between_retries_ms"]
        _INSTANCES.add(self)

    # -- attributes Celery reads ---------------------------------------------
    @property
    def supports_autoexpire(self) -> bool:
        """False when the store needs ``celery.backend_cleanup`` (beat schedules it)."""
        return Capability.CLEANUP not in self.backend.capabilities

    @property
    def TimeoutError(self) -> type[Exception]:  # Celery's attribute name
        return celery_timeout_error()

    def as_uri(self, include_password: bool = False) -> str:
        """The backend URL, password masked unless asked for."""
        return self.backend.as_uri(include_password)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.url))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.as_uri()}>"

    # -- codec -----------------------------------------------------------------
    def encode(self, data: Any) -> bytes:
        return self.backend.encode(data)

    def decode(self, payload: bytes | str | None) -> Any:
        return None if payload is None else self.backend.decode(payload)

    def encode_result(self, result: Any, state: str) -> Any:
        return self.backend.codec.encode_result(result, state)

    def prepare_exception(self, exc: BaseException, serializer: str | None = None) -> Any:
        """A dict for JSON-like serializers, a pickleable exception for pickle."""
        return self.backend.codec.prepare_exception(exc, serializer)

    def exception_to_python(self, exc: Any) -> BaseException | None:
        """Rebuild a stored exception (only already-imported classes, as Celery)."""
        if isinstance(exc, BaseException) and type(exc).__name__ == "UnpickleableExceptionWrapper":
            return exc.restore()  # type: ignore[attr-defined, no-any-return]
        return self.backend.codec.exception_to_python(exc)

    def meta_from_decoded(self, meta: dict[str, Any]) -> dict[str, Any]:
        return self.backend.codec.meta_from_decoded(meta)

    def decode_result(self, payload: bytes | str) -> dict[str, Any]:
        return self.backend.codec.decode_meta(payload)

    def current_task_children(self, request: Any = None) -> list[Any] | None:
        """Child result tuples of ``request`` (default: the task running now)."""
        if request is None:
            from celery._state import get_current_task

            request = getattr(get_current_task(), "request", None)
        if not request:
            return None
        return [r.as_tuple() for r in getattr(request, "children", None) or ()]

    # -- writing (worker side) ---------------------------------------------------
    def store_result(self, task_id: str, result: Any, state: str, traceback: str | None = None,
                     request: Any = None, **kwargs: Any) -> Any:
        """Encode and store the meta; a stored SUCCESS is never overwritten.

        Without a request, ``children`` are those of the task running now (as Celery).
        """
        if request is None:
            self.backend.store_result(task_id, result, state, traceback,
                                      children=self.current_task_children())
        else:
            self.backend.store_result(task_id, result, state, traceback, request)
        return self.encode_result(result, state)

    def mark_as_started(self, task_id: str, **meta: Any) -> Any:
        return self.store_result(task_id, meta, states.STARTED)

    def mark_as_done(self, task_id: str, result: Any, request: Any = None,
                     store_result: bool = True, state: str = states.SUCCESS) -> None:
        """Store SUCCESS (unless ``ignore_result``) and return the chord part."""
        if store_result and not getattr(request, "ignore_result", False):
            self.store_result(task_id, result, state, request=request)
        if request and getattr(request, "chord", None):
            self.on_chord_part_return(request, state, result)

    def mark_as_failure(self, task_id: str, exc: BaseException, traceback: str | None = None,
                        request: Any = None, store_result: bool = True,
                        call_errbacks: bool = True, state: str = states.FAILURE) -> None:
        """Store FAILURE, return the chord part, fail the chain, call the errbacks."""
        if store_result:
            self.store_result(task_id, exc, state, traceback=traceback, request=request)
        if request:
            if getattr(request, "chord", None):
                self.on_chord_part_return(request, state, exc)
            self._fail_chain(getattr(request, "chain", None), exc, traceback,
                             store_result=store_result, state=state)
            if call_errbacks and getattr(request, "errbacks", None):
                self._call_task_errbacks(request, exc, traceback)

    def mark_as_retry(self, task_id: str, exc: BaseException, traceback: str | None = None,
                      request: Any = None, store_result: bool = True,
                      state: str = states.RETRY) -> Any:
        return self.store_result(task_id, exc, state, traceback=traceback, request=request)

    def mark_as_revoked(self, task_id: str, reason: str = "", request: Any = None,
                        store_result: bool = True, state: str = states.REVOKED) -> None:
        """Store ``TaskRevokedError(reason)`` and return the chord part."""
        from celery.exceptions import TaskRevokedError

        exc = TaskRevokedError(reason)
        if store_result:
            self.store_result(task_id, exc, state, traceback=None, request=request)
        if request and getattr(request, "chord", None):
            self.on_chord_part_return(request, state, exc)

    def forget(self, task_id: str) -> None:
        self.backend.forget(task_id)

    def process_cleanup(self) -> None:
        """Called after every task; nothing to release."""

    def cleanup(self) -> int:
        """``celery.backend_cleanup``: delete expired results where the store cannot."""
        return self.backend.cleanup()

    def on_task_call(self, producer: Any, task_id: str) -> dict[str, Any]:
        return {}

    # -- reading (client side) -----------------------------------------------------
    def _ensure_not_eager(self) -> None:
        conf = getattr(self.app, "conf", None)
        if conf is not None and conf.task_always_eager and not conf.task_store_eager_result:
            warnings.warn(_EAGER_WARNING, RuntimeWarning, stacklevel=3)

    def get_task_meta(self, task_id: str, cache: bool = True) -> dict[str, Any]:
        self._ensure_not_eager()
        return self.backend.get_task_meta(task_id, cache=cache)

    def _get_task_meta_for(self, task_id: str) -> dict[str, Any]:
        """One uncached, unretried read (retries belong to :meth:`_ensure_retryable`)."""
        return self.backend.records.get(str(task_id)) or pending_meta()

    def _ensure_retryable(self, func: Callable[..., Any], *args: Any,
                          fallback_exc: Callable[[str], BaseException] | None = None,
                          fallback_msg: str | None = None, max_retries: float | None = None,
                          **kwargs: Any) -> Any:
        """Run ``func(*args, **kwargs)`` under the backend's retry policy (as Celery)."""
        def call() -> Any:
            return func(*args, **kwargs)

        try:
            return self.backend._read(getattr(func, "__name__", "operation"), call,
                                      task_id=kwargs.get("task_id"), max_retries=max_retries)
        except BackendError as exc:
            if fallback_exc is None or exc.__cause__ is None:
                raise
            raise fallback_exc(fallback_msg or str(exc)) from exc

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """The store's answer, except that a TLS certificate failure never is."""
        return not is_certificate_error(exc) and self.backend.store.exception_safe_to_retry(exc)

    def get_state(self, task_id: str) -> str:
        return str(self.get_task_meta(task_id)["status"])

    get_status = get_state

    def get_result(self, task_id: str) -> Any:
        return self.get_task_meta(task_id).get("result")

    def get_traceback(self, task_id: str) -> str | None:
        return self.get_task_meta(task_id).get("traceback")

    def get_children(self, task_id: str) -> list[Any] | None:
        return self.get_task_meta(task_id).get("children")

    def reload_task_result(self, task_id: str) -> None:
        self.backend.cache.put(str(task_id), self.get_task_meta(task_id, cache=False))

    def task_result_exists(self, task_id: str) -> bool:
        return self.backend.task_result_exists(task_id)

    def is_cached(self, task_id: str) -> bool:
        return self.backend.is_cached(task_id)

    # -- waiting -------------------------------------------------------------------
    @property
    def waiter(self) -> Waiter:
        """The backend's shared waiter (pushed where the store can, polling otherwise)."""
        return waiter(self.backend)

    def add_pending_result(self, result: Any, weak: bool = False) -> Any:
        return result

    def remove_pending_result(self, result: Any) -> Any:
        return result

    def wait_for(self, task_id: str, timeout: float | None = None, interval: float = 0.5,
                 no_ack: bool = True, on_interval: Callable[[], Any] | None = None,
                 on_message: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        """Block until ``task_id`` is ready; Celery's ``TimeoutError`` after ``timeout``.

        ``on_message`` gets every state change seen on the way (as Celery's
        asynchronous backends deliver it).
        """
        self._ensure_not_eager()
        return self.waiter.wait(str(task_id), timeout, interval, on_interval, on_message)

    def wait_for_pending(self, result: Any, timeout: float | None = None, interval: float = 0.5,
                         no_ack: bool = True, on_message: Callable[[Any], Any] | None = None,
                         on_interval: Callable[[], Any] | None = None,
                         callback: Callable[..., Any] | None = None,
                         propagate: bool = True) -> Any:
        """``AsyncResult.get``: wait, cache the meta on the result, raise or return its value."""
        meta = self.wait_for(result.id, timeout=timeout, interval=interval,
                             on_interval=on_interval, on_message=on_message)
        result._maybe_set_cache(meta)
        return result.maybe_throw(propagate=propagate, callback=callback)

    def get_many(self, task_ids: Iterable[str], timeout: float | None = None,
                 interval: float = 0.5, no_ack: bool = True,
                 on_message: Callable[[Any], Any] | None = None,
                 on_interval: Callable[[], Any] | None = None, max_iterations: int | None = None,
                 READY_STATES: frozenset[str] = states.READY_STATES,
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(task_id, meta)`` as tasks become ready (batched reads)."""
        interval = 0.5 if interval is None else interval
        ids = list(dict.fromkeys(str(t) for t in task_ids))
        if max_iterations or READY_STATES != states.READY_STATES:
            ready = self._poll_many(ids, timeout, interval, on_interval, on_message,
                                    max_iterations, READY_STATES)
        else:
            ready = self.waiter.iter_ready(ids, timeout, interval, on_interval, on_message)
        yield from ready

    def _poll_many(self, ids: list[str], timeout: float | None, interval: float,
                   on_interval: Callable[[], Any] | None, on_message: Callable[[Any], Any] | None,
                   max_iterations: int | None, ready_states: frozenset[str]
                   ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Celery's ``get_many`` loop, for callers that bound the passes (``_iter_meta``)."""
        import time

        elapsed, passes = 0.0, 0
        while ids:
            metas = self.backend.get_many(ids)
            left = []
            for task_id in ids:
                if metas[task_id]["status"] in ready_states:
                    if on_message is not None:
                        on_message(metas[task_id])
                    yield task_id, metas[task_id]
                else:
                    left.append(task_id)
            ids = left
            if not ids:
                return
            if timeout is not None and elapsed >= timeout:
                raise ResultStoreTimeoutError(f"Operation timed out ({timeout})")
            if on_interval is not None:
                on_interval()
            nap = interval if timeout is None else min(interval, timeout - elapsed)
            time.sleep(nap)
            elapsed += nap
            passes += 1
            if max_iterations and passes >= max_iterations:
                return

    def iter_native(self, result: Any, timeout: float | None = None, interval: float = 0.5,
                    no_ack: bool = True, on_message: Callable[[Any], Any] | None = None,
                    on_interval: Callable[[], Any] | None = None
                    ) -> Iterator[tuple[str, Any]]:
        """``ResultSet.join_native``: ``(id, meta)`` per member, ``(id, results)`` for sets."""
        self._ensure_not_eager()
        members = result.results
        if not members:
            return
        task_ids = []
        for member in members:
            if hasattr(member, "results"):  # a nested ResultSet/GroupResult
                yield member.id, member.results
            else:
                task_ids.append(member.id)
        yield from self.get_many(task_ids, timeout=timeout, interval=interval, no_ack=no_ack,
                                 on_message=on_message, on_interval=on_interval)

    # -- groups ----------------------------------------------------------------------
    def save_group(self, group_id: str, result: Any) -> Any:
        """``GroupResult.save``: stored as ``{'result': result.as_tuple()}``."""
        return self.backend.save_group(group_id, result)

    def get_group_meta(self, group_id: str, cache: bool = True) -> dict[str, Any] | None:
        """The saved group ``{'result': GroupResult}``, or ``None``."""
        self._ensure_not_eager()
        if cache and (meta := self.backend.cache.get(str(group_id))) is not None:
            return meta
        meta = self.backend.get_group_meta(group_id)
        if meta is None:
            return None
        from celery.result import result_from_tuple

        meta = dict(meta)
        meta["result"] = result_from_tuple(meta["result"], self.app)
        if cache:
            self.backend.cache.put(str(group_id), meta)
        return meta

    def restore_group(self, group_id: str, cache: bool = True) -> Any:
        """``GroupResult.restore``: the saved Celery ``GroupResult`` or ``None``."""
        meta = self.get_group_meta(group_id, cache=cache)
        return meta["result"] if meta else None

    def reload_group_result(self, group_id: str) -> None:
        meta = self.get_group_meta(group_id, cache=False)
        if meta is not None:
            self.backend.cache.put(str(group_id), meta)

    def delete_group(self, group_id: str) -> None:
        self.backend.cache.discard(str(group_id))
        self.backend.delete_group(group_id)

    def ensure_chords_allowed(self) -> None:
        """Chords need stored results: refused on ``disabled://`` (as Celery)."""
        if isinstance(self.backend.store, DisabledStore):
            raise NotImplementedError(
                "Starting chords requires a result backend to be configured "
                "(result_backend is disabled).")


# Errors leaving any method Celery calls are Celery's classes too (also in subclasses).
for _name, _wrapper in raises_celery_errors({**vars(FailureMixin), **vars(ChordMixin),
                                              **vars(SurfaceMixin), **vars(CeleryBackend)}).items():
    setattr(CeleryBackend, _name, _wrapper)


#: Live hosts, so a forked child (prefork pool) drops waiters whose threads stayed behind.
_INSTANCES: weakref.WeakSet[CeleryBackend] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for host in list(_INSTANCES):
        host.backend.__dict__.pop("_waiter", None)  # the next wait builds a fresh one


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _rebuild(cls: type[CeleryBackend], url: str) -> CeleryBackend:
    from celery import current_app  # only reachable when Celery unpickles a result

    return cls(app=current_app._get_current_object(), url=url)

