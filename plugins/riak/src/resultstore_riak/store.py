"""``RiakStore``: Celery's former Riak layout over Riak KV's HTTP API, through httpx.

An object per key in one bucket (``riak://host:8098/<bucket>``, default ``celery``, of the
bucket type ``default`` unless ``bucket_type`` says otherwise), holding what Celery's
``RiakBackend`` wrote (see :mod:`.objects`).  Reads resolve siblings by last write, as
Celery's client did; writes are Celery's blind ``PUT`` (one request), with the vector clock
of a fresh read when a strongly consistent bucket refuses it.

Conditional writes are Riak's: ``If-None-Match: *`` creates only if absent, a ``PUT``
carrying the ``X-Riak-Vclock`` read replaces only that version.  Riak enforces both
atomically only on strongly consistent bucket types (``consistent = true``); on eventually
consistent ones they are checked by a read at the coordinating node, and two writers can
both pass.  So the store asks the bucket type's properties once: native chords
(:mod:`.chords`, no key listing) and keep-SUCCESS writes when it is strongly consistent,
else neither (hosts poll with ``chord_unlock``, as Celery's backend did).
``riak_backend_settings={'conditional_writes': ...}`` decides without asking.

Riak has no per-key expiry: the expiry is recorded with each object and honoured by reads;
``cleanup`` deletes expired objects, which needs a key listing (a full traversal of the
cluster's keys in Riak: run it off-peak); Celery's objects expire ``result_expires`` after
their ``Last-Modified``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from resultstore.blob import Blob, BlobInfo, BlobStore, PerProcess, PreconditionFailed
from resultstore.chordstore import ForwardChords
from resultstore.config import Settings
from resultstore.errors import BackendError

from .chords import RiakChords
from .config import RiakConfig
from .objects import EXPIRES, blob_of, check, encode, is_transient, last_modified, latest_sibling

__all__ = ["RiakStore", "client_options"]

log = logging.getLogger(__name__)

#: Attempts at a write that a strongly consistent bucket keeps refusing (concurrent writers).
ATTEMPTS = 50


def client_options(config: RiakConfig) -> dict[str, Any]:
    return {"base_url": config.base_url, "timeout": httpx.Timeout(config.timeout),
            "limits": httpx.Limits(max_connections=config.max_connections,
                                   max_keepalive_connections=config.max_connections)}


class RiakStore(ForwardChords, BlobStore):
    """Results as Riak objects; see the module docstring."""

    settings_prefix = "riak"

    def __init__(self, config: RiakConfig, settings: Settings | None = None) -> None:
        super().__init__("", settings or Settings())
        self.config = config
        self._client: PerProcess[httpx.Client] = PerProcess(
            lambda: httpx.Client(**client_options(config)))
        self.chords = RiakChords(self)
        self.configure_conditions()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RiakStore:
        return cls(RiakConfig.from_url(url, settings), settings)

    # -- HTTP ---------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        return self._client.get()

    def request(self, method: str, path: str, what: str, ok: tuple[int, ...] = (),
                **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        return response if response.status_code in ok else check(response, what)

    def path(self, name: str) -> str:
        return f"{self.config.bucket_path}/keys/{quote(name, safe='')}"

    def configure_conditions(self) -> None:
        """Conditional writes iff configured so, else iff the bucket type is consistent."""
        honoured = self.config.conditional_writes
        if honoured is None:
            honoured = self.settings.get("riak_conditional_writes")
        if honoured is None:
            honoured = self.conditions_honoured()
        always, conditional = self.declared_capabilities()
        self.capabilities = always | conditional if bool(honoured) else always  # type: ignore[misc]

    def conditions_honoured(self) -> bool:
        """``consistent`` in the bucket type's properties (``GET /types/<type>/props``)."""
        what = f"read the properties of bucket type {self.config.bucket_type!r}"
        try:
            response = self.request("GET", f"/types/{quote(self.config.bucket_type, safe='')}/props",
                                    what)
            props = response.json().get("props")
        except Exception as exc:
            raise BackendError(f"{self.as_uri()}: cannot {what} ({type(exc).__name__}: {exc}); "
                               f"check the server, or set riak_backend_settings "
                               f"conditional_writes True/False.") from exc
        consistent = isinstance(props, dict) and props.get("consistent") is True
        if not consistent:
            log.info("%s: bucket type %r is not strongly consistent: no native chords (hosts "
                     "poll) and no atomic keep-SUCCESS writes.", self.as_uri(),
                     self.config.bucket_type)
        return consistent

    # -- the object API -------------------------------------------------------------------
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        response = self.request("GET", self.path(name), f"GET {name}", ok=(300, 404))
        if response.status_code == 404:
            return None
        if response.status_code == 300:
            response = self.request("GET", self.path(name), f"GET {name} (siblings)", ok=(404,),
                                    headers={"Accept": "multipart/mixed"})
            if response.status_code == 404:
                return None
            if response.headers.get("Content-Type", "").startswith("multipart/mixed"):
                return latest_sibling(response)
        return blob_of(response.content, response.headers, response.headers.get("X-Riak-Vclock"))

    def head_blob(self, name: str) -> BlobInfo | None:
        """Expiry and ``Last-Modified`` of an object (Celery's objects age from it)."""
        response = self.request("HEAD", self.path(name), f"HEAD {name}", ok=(300, 404))
        if response.status_code == 404:
            return None
        if response.status_code == 300:
            blob = self.read_blob(name)
            return None if blob is None else BlobInfo(name, time.time(), blob.expires)
        expires = response.headers.get(EXPIRES)
        try:
            expiry = float(expires) if expires else None
        except ValueError:
            expiry = None
        return BlobInfo(name, last_modified(response.headers) or time.time(), expiry)

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        body, content_type = encode(data)
        headers = {"Content-Type": content_type}
        if expires is not None:
            headers[EXPIRES] = repr(float(expires))
        if if_absent or if_version is not None:
            if if_absent:
                headers["If-None-Match"] = "*"
            else:
                headers["X-Riak-Vclock"] = str(if_version)
            response = self.request("PUT", self.path(name), f"PUT {name}", ok=(412,),
                                    content=body, headers=headers)
            if response.status_code == 412:
                raise PreconditionFailed(f"{name}: object exists or changed")
            return _vclock(response)
        vclock: str | None = None
        for _ in range(ATTEMPTS):
            sent = {**headers, **({"X-Riak-Vclock": vclock} if vclock else {})}
            response = self.request("PUT", self.path(name), f"PUT {name}", ok=(412,),
                                    content=body, headers=sent)
            if response.status_code != 412:
                return _vclock(response)
            current = self.read_blob(name, need_version=True)  # strongly consistent: take it
            vclock = current.version if current is not None else None
        raise BackendError(f"{name}: too much write contention ({ATTEMPTS} attempts)")

    def delete_blob(self, name: str) -> None:
        response = self.request("DELETE", self.path(name), f"DELETE {name}", ok=(404, 412))
        if response.status_code == 412:  # strongly consistent: delete the version read
            current = self.read_blob(name, need_version=True)
            if current is not None and current.version:
                self.request("DELETE", self.path(name), f"DELETE {name}", ok=(404, 412),
                             headers={"X-Riak-Vclock": current.version})

    def list_names(self, prefix: str) -> Iterator[str]:
        """A key listing (``?keys=true``): Riak traverses every key of the cluster for it."""
        response = self.request("GET", f"{self.config.bucket_path}/keys", "list keys",
                                params={"keys": "true"})
        body = response.json()
        keys = body.get("keys") if isinstance(body, dict) else None
        return iter(sorted(k for k in keys or [] if isinstance(k, str) and k.startswith(prefix)))

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        """Names only: the expiry is in each object's headers (``head_blob``)."""
        return (BlobInfo(name, 0.0, None, expiry_known=False) for name in self.list_names(prefix))

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    # -- naming, lifecycle ------------------------------------------------------------------
    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        client = self._client.peek()
        if client is not None:
            client.close()
        self._client.reset()
        super().close()


def _vclock(response: httpx.Response) -> str | None:
    vclock = response.headers.get("X-Riak-Vclock")
    return str(vclock) if vclock else None
