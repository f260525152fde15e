"""A stand-in for a Couchbase cluster at the SDK's network boundary.

Everything above the network is the installed ``couchbase`` SDK 4's own code: options are
processed by its ``forward_args``/``get_valid_multi_args`` and checked against its request
object (``pycbc_kv_request``: an option the SDK does not know raises ``AttributeError``
there, as in a real call), values go through the real transcoders (and their flags), results
are the SDK's ``GetResult``/``MutationResult``/``MultiGetResult``/``MultiMutationResult``, and
errors are the SDK's exception classes.  Only the C++ core's round trip is replaced: each
key/value operation runs on a :class:`~.server.DocumentServer` (in this process, or in a
manager process shared by several: :mod:`.remote`).

``couchbase.cluster.Cluster`` is patched with :class:`FakeCluster` (and, for Celery's own
backend, ``celery.backends.couchbase.Cluster``).  Not modelled: replicas, durability levels,
sub-document and query APIs, connection failures, the SDK's own retries.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

from couchbase import exceptions as cb
from couchbase.logic.cluster_settings import ClusterSettings
from couchbase.logic.options import get_valid_multi_args
from couchbase.logic.pycbc_core import pycbc_kv_request
from couchbase.options import GetMultiOptions, RemoveMultiOptions, UpsertMultiOptions, forward_args
from couchbase.result import GetResult, MultiGetResult, MultiMutationResult, MutationResult
from couchbase.transcoder import JSONTranscoder

from .server import DocumentServer

__all__ = ["FakeCluster", "FakeCollection"]

_DEFAULT_TRANSCODER = JSONTranscoder()
_ERRORS = {"missing": cb.DocumentNotFoundException, "exists": cb.DocumentExistsException,
           "cas": cb.CasMismatchException}
_NOT_SENT = ("transcoder", "durability", "span", "parent_span")


def _single(kwargs: dict[str, Any], opts: tuple[Any, ...],
            default: Any = _DEFAULT_TRANSCODER) -> tuple[dict[str, Any], Any]:
    """The SDK's processing of one operation's options: ``(final args, transcoder)``."""
    final = forward_args(kwargs, *opts)
    transcoder = final.get("transcoder") or default
    request = pycbc_kv_request()
    for name, value in final.items():
        if name not in _NOT_SENT and value is not None:
            setattr(request, name, value)  # the SDK's own check (AttributeError for unknown ones)
    return final, transcoder


def _raise(outcome: str, key: str) -> None:
    if outcome != "ok":
        raise _ERRORS[outcome](message=f"{outcome}: {key}")


class FakeCollection:
    """``couchbase.collection.Collection``'s key/value methods over a document server."""

    def __init__(self, server: Any, scope: str, name: str,
                 transcoder: Any = _DEFAULT_TRANSCODER) -> None:
        self.server, self.scope_name, self.name = server, scope, name
        #: The cluster's default transcoder (``ClusterOptions(transcoder=...)``), as in the SDK.
        self.transcoder = transcoder

    def _where(self, key: str) -> tuple[str, str, str]:
        if not isinstance(key, str):
            raise cb.InvalidArgumentException(message=f"key must be str, got {type(key).__name__}")
        return (self.scope_name, self.name, key)

    def get(self, key: str, *opts: Any, **kwargs: Any) -> GetResult:
        _, transcoder = _single(kwargs, opts, self.transcoder)
        outcome, found = self.server.run("get", self._where(key))
        _raise(outcome, key)
        value, flags, cas = found
        return GetResult(SimpleNamespace(raw_result={"value": value, "flags": flags, "cas": cas}),
                         transcoder=transcoder, key=key)

    def _mutate(self, op: str, key: str, value: Any, opts: tuple[Any, ...],
                kwargs: dict[str, Any]) -> MutationResult:
        final, transcoder = _single(kwargs, opts, self.transcoder)
        data, flags = transcoder.encode_value(value) if op != "remove" else (None, 0)
        outcome, cas = self.server.run(op, self._where(key), data, flags, final.get("expiry"),
                                       final.get("cas") or 0)
        _raise(outcome, key)
        return MutationResult(SimpleNamespace(raw_result={"cas": cas}), key=key)

    def insert(self, key: str, value: Any, *opts: Any, **kwargs: Any) -> MutationResult:
        return self._mutate("insert", key, value, opts, kwargs)

    def upsert(self, key: str, value: Any, *opts: Any, **kwargs: Any) -> MutationResult:
        return self._mutate("upsert", key, value, opts, kwargs)

    def replace(self, key: str, value: Any, *opts: Any, **kwargs: Any) -> MutationResult:
        return self._mutate("replace", key, value, opts, kwargs)

    def remove(self, key: str, *opts: Any, **kwargs: Any) -> MutationResult:
        return self._mutate("remove", key, None, opts, kwargs)

    # -- multi operations: one key/value request per key, as the SDK sends them -------------
    def get_multi(self, keys: list[str], *opts: Any, **kwargs: Any) -> MultiGetResult:
        final = get_valid_multi_args(GetMultiOptions, kwargs, *opts)
        transcoder = final.get("transcoder") or self.transcoder
        answers = self.server.run_many([("get", self._where(key)) for key in keys])
        raw: dict[str, Any] = {}
        for key, (outcome, found) in zip(keys, answers, strict=True):
            if outcome != "ok":
                raw[key] = _ERRORS[outcome](message=f"{outcome}: {key}")
            else:
                raw[key] = SimpleNamespace(raw_result={"value": found[0], "flags": found[1],
                                                       "cas": found[2]})
        raw["all_okay"] = all(outcome == "ok" for outcome, _ in answers)
        return MultiGetResult(SimpleNamespace(raw_result=raw),
                              return_exceptions=final.get("return_exceptions", True),
                              transcoders={key: transcoder for key in keys})

    def _mutate_multi(self, calls: list[tuple[Any, ...]], keys: list[str],
                      return_exceptions: bool) -> MultiMutationResult:
        answers = self.server.run_many(calls)
        raw: dict[str, Any] = {}
        for key, (outcome, cas) in zip(keys, answers, strict=True):
            raw[key] = (SimpleNamespace(raw_result={"cas": cas}) if outcome == "ok"
                        else _ERRORS[outcome](message=f"{outcome}: {key}"))
        raw["all_okay"] = all(outcome == "ok" for outcome, _ in answers)
        return MultiMutationResult(SimpleNamespace(raw_result=raw), return_exceptions=return_exceptions)

    def upsert_multi(self, docs: dict[str, Any], *opts: Any, **kwargs: Any) -> MultiMutationResult:
        final = get_valid_multi_args(UpsertMultiOptions, kwargs, *opts)
        transcoder = final.get("transcoder") or self.transcoder
        calls = []
        for key, value in docs.items():
            data, flags = transcoder.encode_value(value)
            calls.append(("upsert", self._where(key), data, flags, final.get("expiry"), 0))
        return self._mutate_multi(calls, list(docs), final.get("return_exceptions", True))

    def remove_multi(self, keys: list[str], *opts: Any, **kwargs: Any) -> MultiMutationResult:
        final = get_valid_multi_args(RemoveMultiOptions, kwargs, *opts)
        calls = [("remove", self._where(key)) for key in keys]
        return self._mutate_multi(calls, list(keys), final.get("return_exceptions", True))


class FakeScope:
    def __init__(self, server: Any, name: str, transcoder: Any = _DEFAULT_TRANSCODER) -> None:
        self.server, self.name, self.transcoder = server, name, transcoder

    def collection(self, name: str) -> FakeCollection:
        return FakeCollection(self.server, self.name, name, self.transcoder)

    def default_collection(self) -> FakeCollection:
        return self.collection("_default")


class FakeBucket:
    def __init__(self, server: Any, name: str, transcoder: Any = _DEFAULT_TRANSCODER) -> None:
        self.server, self.name, self.transcoder = server, name, transcoder

    def scope(self, name: str) -> FakeScope:
        return FakeScope(self.server, f"{self.name}/{name}", self.transcoder)  # buckets kept apart

    def default_scope(self) -> FakeScope:
        return self.scope("_default")

    def default_collection(self) -> FakeCollection:
        return self.scope("_default").collection("_default")


class FakeCluster:
    """``Cluster(connstr, *options, **kwargs)`` as the SDK checks them; every bucket is served by
    :attr:`server`."""

    #: Set by the tests (a :class:`DocumentServer` or a remote proxy of one).
    server: ClassVar[Any] = None
    #: ``(connection string, options)`` of every cluster opened (tests inspect them).
    opened: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self, connstr: str, *options: Any, **kwargs: Any) -> None:
        # The SDK's own processing of the connection string and options (no connection is made):
        # it refuses a missing authenticator, bad options and bad connection strings.
        self.settings = ClusterSettings.build_cluster_settings(connstr, *options, **kwargs)
        if self.server is None:
            raise cb.UnAmbiguousTimeoutException(message="no stand-in server configured")
        self.connstr = connstr
        FakeCluster.opened.append((connstr, self.settings))
        self.closed = False

    def bucket(self, name: str) -> FakeBucket:
        return FakeBucket(self.server if not self.closed else None, name,
                          self.settings.default_transcoder)

    def close(self) -> None:
        self.closed = True


def local_server() -> DocumentServer:
    return DocumentServer()
