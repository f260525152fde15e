"""``ConsulStore``: Celery's Consul keys and session-TTL expiry, through httpx, on the shared
blob-store logic (:class:`resultstore.blob.BlobStore`).

Layout (Celery's ``ConsulBackend``): the key ``<path>/<celery key>`` (or the bare key
without a path) holds the serialized meta.  A write with a lifetime first creates a session
named like the key, ``Behavior=delete`` and ``TTL`` = the lifetime, and acquires the key
with it, so Consul deletes the key when the session expires.  Beyond Celery:

* conditional writes are atomic ``/v1/txn`` transactions: create-if-absent is ``cas`` with
  index 0, replace-if-version is ``check-index`` on the ``ModifyIndex`` read (plus
  ``unlock`` of the session holding the key), each followed by ``lock`` with the new
  session; so chords complete exactly once and a stored SUCCESS is never overwritten;
* a write to a key held by another session (any second write of a task: RETRY then
  SUCCESS) moves the key to the new session in one transaction; Celery's ``acquire`` is
  refused by Consul there and its second write is lost;
* the exact expiry rides in ``Flags`` (epoch ms): reads honour it, session TTLs below 10 s
  are raised to Consul's minimum, lifetimes above 24 h (Consul's maximum) get no session
  and are deleted by ``cleanup``;
* batched reads are one read-only transaction of ``get-tree`` operations per 64 keys
  (``get`` would fail the whole transaction on a missing key), batched deletes one
  transaction of ``delete`` operations per 64 keys, listings ``?keys`` / ``?recurse``;
* push wake-ups from blocking queries (:mod:`.watch`).
"""

from __future__ import annotations

import functools
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from resultstore.blob import Blob, BlobInfo, BlobStore, PerProcess, PreconditionFailed
from resultstore.config import Settings
from resultstore.errors import BackendError
from resultstore.spec import Capability, MessageHandler

from .config import ConsulConfig
from .kv import check, entry_blob, flags_of, is_transient, kv_op

if TYPE_CHECKING:
    from .watch import ConsulWatcher

__all__ = ["ConsulStore", "client_options", "TXN_OPS", "MIN_TTL", "MAX_TTL"]

#: Operations per ``/v1/txn`` request (Consul's limit).
TXN_OPS = 64
#: Consul's bounds for a session TTL, seconds.
MIN_TTL, MAX_TTL = 10, 86400
#: Attempts at an unconditional write that keeps meeting concurrent writers.
ATTEMPTS = 50


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (httpx builds one per client otherwise, which
    costs more than a request: the watcher and each forked worker build clients)."""
    return ssl.create_default_context()


def client_options(config: ConsulConfig) -> dict[str, Any]:
    """``httpx.Client`` arguments: base URL, ACL token header, timeouts, pool."""
    # As bytes: a token that is not ASCII (never a real one: they are UUIDs) is sent as UTF-8
    # and refused by Consul (403) like any wrong token, instead of failing inside httpx.
    headers = {"X-Consul-Token": config.token.encode("utf-8")} if config.token else {}
    return {"base_url": config.base_url, "headers": headers, "verify": tls_context(),
            "timeout": httpx.Timeout(config.timeout),
            "limits": httpx.Limits(max_connections=config.max_connections,
                                   max_keepalive_connections=config.max_connections)}


class ConsulStore(BlobStore):
    """Results as Consul KV entries; see the module docstring."""

    settings_prefix = "consul"
    extra_capabilities = frozenset({Capability.SUBSCRIBE})
    assume_conditions = True  # transactions are Consul's API: check-index is always enforced

    def __init__(self, config: ConsulConfig, settings: Settings | None = None) -> None:
        super().__init__(config.prefix, settings or Settings())
        self.config = config
        self._client: PerProcess[httpx.Client] = PerProcess(
            lambda: httpx.Client(**client_options(config)))
        self._spare = threading.local()
        self._client.get()  # built now, not on the first request (httpx takes ~0.1 s for it)
        self.configure_conditions()
        if not config.watch:
            self.capabilities = self.capabilities - {Capability.SUBSCRIBE}  # type: ignore[misc]

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ConsulStore:
        return cls(ConsulConfig.from_url(url, settings), settings)

    # -- HTTP ------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        return self._client.get()

    def params(self, read: bool = False, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"dc": self.config.dc} if self.config.dc else {}
        if read and self.config.consistency != "default":
            params[self.config.consistency] = ""
        return {**params, **extra}

    def request(self, method: str, path: str, what: str, ok: tuple[int, ...] = (),
                **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        return response if response.status_code in ok else check(response, what)

    @staticmethod
    def kv_path(name: str) -> str:
        return "/v1/kv/" + quote(name, safe="/")

    def txn(self, ops: list[dict[str, Any]], what: str, read: bool = False) -> list[Any]:
        """One transaction; the ``Results``.  A rolled-back one raises ``PreconditionFailed``."""
        response = self.request("PUT", "/v1/txn", what, ok=(409,), json=ops,
                                params=self.params(read=read))
        body = response.json()
        if response.status_code == 409:
            errors = body.get("Errors") if isinstance(body, dict) else None
            raise PreconditionFailed(f"{what}: {str(errors)[:200]}")
        results = body.get("Results") if isinstance(body, dict) else None
        return results if isinstance(results, list) else []

    def session(self, name: str, expires: float | None) -> str | None:
        """A ``Behavior=delete`` session living until ``expires`` (None past 24 h): the one a
        refused conditional write of this thread left unused for the same key, else new."""
        if expires is None:
            return None
        spare = getattr(self._spare, "value", None)
        self._spare.value = None
        if spare is not None and spare[:2] == (name, expires):
            return str(spare[2])
        ttl = math.ceil(expires - time.time())
        if ttl > MAX_TTL:
            return None
        body = {"Name": name, "Behavior": "delete", "TTL": f"{max(ttl, MIN_TTL)}s",
                "LockDelay": "0s"}
        answer = self.request("PUT", "/v1/session/create", "create session", json=body,
                              params=self.params()).json()
        session = answer.get("ID") if isinstance(answer, dict) else None
        if not isinstance(session, str):
            raise BackendError("Consul session/create answered no session ID")
        return session

    # -- the object API ----------------------------------------------------------------
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        response = self.request("GET", self.kv_path(name), f"GET {name}", ok=(404,),
                                params=self.params(read=True))
        if response.status_code == 404:
            return None
        entries = response.json()
        return entry_blob(entries[0]) if isinstance(entries, list) and entries else None

    def read_blobs(self, names: Sequence[str]) -> list[Blob | None]:
        unique = list(dict.fromkeys(names))
        found: dict[str, Blob | None] = {}
        for start in range(0, len(unique), TXN_OPS):
            chunk = unique[start:start + TXN_OPS]
            wanted = set(chunk)
            for result in self.txn([kv_op("get-tree", name) for name in chunk], "read keys",
                                   read=True):
                entry = result.get("KV") if isinstance(result, dict) else None
                key = entry.get("Key") if isinstance(entry, dict) else None
                if key in wanted:  # get-tree also returns longer keys with that prefix
                    found[key] = entry_blob(entry)
        return [found.get(name) for name in names]

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        session = self.session(name, expires)
        flags = flags_of(expires)
        if if_absent or if_version is not None:
            return self._txn_write(name, data, flags, session, if_version, expires)
        for _ in range(ATTEMPTS):
            params = self.params(flags=flags)
            if session:
                params["acquire"] = session
            answer = self.request("PUT", self.kv_path(name), f"PUT {name}", content=data,
                                  params=params)
            if answer.text.strip() == "true":
                return None
            current = self.read_blob(name, need_version=True)  # held by another session
            if current is None or current.version is None:
                continue
            try:
                return self._txn_write(name, data, flags, session, current.version, expires)
            except PreconditionFailed:
                continue
        raise BackendError(f"{name}: too much write contention ({ATTEMPTS} attempts)")

    def _txn_write(self, name: str, data: bytes, flags: int, session: str | None,
                   version: str | None, expires: float | None = None) -> str | None:
        """Create (``version`` None) or replace that version, then lock with ``session``."""
        if version is None:
            ops = [kv_op("cas", name, data, Index=0, Flags=flags)]
        else:
            index, _, holder = version.partition(":")
            ops = [kv_op("check-index", name, Index=int(index))]
            if holder:
                ops.append(kv_op("unlock", name, data, Session=holder, Flags=flags))
            if not session:
                ops.append(kv_op("set", name, data, Flags=flags))
        if session:
            ops.append(kv_op("lock", name, data, Session=session, Flags=flags))
        try:
            results = self.txn(ops, f"write {name}")
        except PreconditionFailed:
            if session:  # unused: the caller's next write of this key takes it
                self._spare.value = (name, expires, session)
            raise
        entry = results[-1].get("KV") if results and isinstance(results[-1], dict) else None
        blob = entry_blob(entry) if entry else None
        return blob.version if blob else None

    def delete_blob(self, name: str) -> None:
        self.request("DELETE", self.kv_path(name), f"DELETE {name}", params=self.params())

    def delete_blobs(self, names: Sequence[str]) -> None:
        unique = list(dict.fromkeys(names))
        for start in range(0, len(unique), TXN_OPS):
            self.txn([kv_op("delete", name) for name in unique[start:start + TXN_OPS]],
                     "delete keys")

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        """Entries with their recorded expiry (Consul keeps no modification time: ``now``)."""
        response = self.request("GET", self.kv_path(prefix), "list keys", ok=(404,),
                                params=self.params(read=True, recurse=""))
        now = time.time()
        entries = response.json() if response.status_code != 404 else []
        for entry in entries if isinstance(entries, list) else []:
            blob = entry_blob(entry)
            if blob is not None and isinstance(entry.get("Key"), str):
                yield BlobInfo(entry["Key"], now, blob.expires)

    def list_names(self, prefix: str) -> Iterator[str]:
        response = self.request("GET", self.kv_path(prefix), "list keys", ok=(404,),
                                params=self.params(read=True, keys=""))
        names = response.json() if response.status_code != 404 else []
        return iter([n for n in names if isinstance(n, str)] if isinstance(names, list) else [])

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    # -- push, naming, lifecycle --------------------------------------------------------
    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> ConsulWatcher:
        from .watch import ConsulWatcher

        return ConsulWatcher(self, on_message, on_reconnect)

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        client = self._client.peek()
        if client is not None:
            client.close()
        self._client.reset()
        super().close()
