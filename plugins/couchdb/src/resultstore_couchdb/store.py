"""``CouchDBStore``: Celery's CouchDB documents, through httpx, on the shared blob-store logic.

The object API of :class:`resultstore.blob.BlobStore` maps one to one onto CouchDB's
document API, whose MVCC gives exactly the conditional writes that base class needs:

* create-if-absent is a ``PUT`` without ``_rev`` (``409 Conflict`` if the document exists);
* replace-if-version is a ``PUT`` with the ``_rev`` read (``409`` if it changed meanwhile);
* an unconditional write (Celery's ``set``) is a ``PUT``, then on ``409`` a ``HEAD`` for
  the current revision and a ``PUT`` with it, until it sticks.

So chords complete exactly once (create-if-absent part documents and completion marker),
a stored SUCCESS is never overwritten (revision-checked update), and the rest is
batched: reads are one ``POST _all_docs?include_docs=true`` with the keys, deletes and
multi-writes one ``_bulk_docs`` (plus one ``_all_docs`` for the revisions), listings are
``_all_docs`` key ranges.  Push wake-ups come from the ``_changes`` feed
(:mod:`resultstore_couchdb.changes`), asyncio reads from an ``httpx.AsyncClient``
(:mod:`resultstore_couchdb.aio`).  The database is created on first use, as Celery does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from resultstore.blob import Blob, BlobInfo, BlobStore, PerProcess, PreconditionFailed
from resultstore.config import Settings
from resultstore.errors import BackendError
from resultstore.spec import Capability, MessageHandler

from .client import Client, client_options
from .config import CouchDBConfig
from .docs import (
    check,
    date_done_of,
    decode_doc,
    doc_path,
    encode_doc,
    expires_of,
    is_transient,
    rev_of,
)

if TYPE_CHECKING:
    from .aio import AsyncCouchDBStore
    from .changes import ChangesSubscriber

__all__ = ["CouchDBStore"]

#: Keys per ``_all_docs`` / ``_bulk_docs`` request, and rows per listing page.
BATCH, PAGE = 1000, 1000
#: Attempts at an unconditional write (or delete) that keeps meeting newer revisions.
ATTEMPTS = 50


class CouchDBStore(BlobStore):
    """Results as documents ``{"_id": <celery key>, "value": <payload>}`` in one database."""

    settings_prefix = "couchdb"
    #: Named when the server's TLS certificate does not verify (never retried).
    certificate_settings = ("couchdb_ca_certs (or ?ca_certs= in the URL: the CA bundle the "
                            "server's certificate is checked against) and the host name in the URL")
    extra_capabilities = frozenset({Capability.AIO, Capability.SUBSCRIBE})
    assume_conditions = True  # MVCC is CouchDB's API: every compatible server refuses stale revisions

    def __init__(self, config: CouchDBConfig, settings: Settings | None = None) -> None:
        super().__init__("", settings or Settings())
        self.config = config
        self.db = config.database_path
        self._client: PerProcess[httpx.Client] = PerProcess(self._make_client)
        self.configure_conditions()
        if not config.changes_feed:
            self.capabilities = self.capabilities - {Capability.SUBSCRIBE}  # type: ignore[misc]

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> CouchDBStore:
        return cls(CouchDBConfig.from_url(url, settings), settings)

    # -- HTTP -----------------------------------------------------------------------
    def _make_client(self) -> httpx.Client:
        client = Client(**client_options(self.config))
        try:
            self.ensure_database(client.request)
        except BaseException:
            client.close()
            raise
        return client

    def ensure_database(self, request: Callable[..., httpx.Response]) -> None:
        """Create the database unless it exists (as Celery's ``server.create`` on NotFound)."""
        found = request("GET", self.db)
        if found.status_code != 404:
            check(found, f"open database {self.config.database!r}")
            return
        created = request("PUT", self.db)
        if created.status_code != 412:  # 412: created concurrently
            check(created, f"create database {self.config.database!r}")

    @property
    def client(self) -> httpx.Client:
        """This process's pooled client (the database is ensured when it is built)."""
        return self._client.get()

    def _request(self, method: str, path: str, what: str, ok: tuple[int, ...] = (),
                 **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        return response if response.status_code in ok else check(response, what)

    def path(self, name: str) -> str:
        return f"{self.db}/{doc_path(name)}"

    def current_rev(self, name: str) -> str | None:
        """The document's revision, ``None`` when absent or deleted.

        Read from ``_all_docs`` (the revision only, no body), not from a ``HEAD``'s ``ETag``:
        CouchDB puts the revision there, CouchDB-compatible servers do not all do so.
        """
        return self._revs([name]).get(name)

    def all_docs(self, keys: Sequence[str], include_docs: bool) -> list[dict[str, Any]]:
        """``POST _all_docs`` rows for ``keys`` (in batches of :data:`BATCH`)."""
        rows: list[dict[str, Any]] = []
        params = {"include_docs": "true"} if include_docs else {}
        for start in range(0, len(keys), BATCH):
            body = self._request("POST", f"{self.db}/_all_docs", "read documents", params=params,
                                 json={"keys": list(keys[start:start + BATCH])}).json()
            rows += [row for row in body.get("rows", []) if isinstance(row, dict)]
        return rows

    def _revs(self, names: Sequence[str]) -> dict[str, str]:
        revs: dict[str, str] = {}
        for row in self.all_docs(names, include_docs=False):
            rev = rev_of(row)
            if rev is not None:
                revs[str(row.get("key"))] = rev
        return revs

    def bulk(self, docs: list[dict[str, Any]], what: str) -> list[str]:
        """``POST _bulk_docs``; return the ids refused with a conflict."""
        answers = self._request("POST", f"{self.db}/_bulk_docs", what, json={"docs": docs}).json()
        conflicts: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for answer in answers if isinstance(answers, list) else []:
            if isinstance(answer, dict) and answer.get("error"):
                (conflicts if answer["error"] == "conflict" else failed).append(answer)
        if failed:
            raise BackendError(f"CouchDB {what}: {len(failed)} documents refused "
                               f"(first: {str(failed[0].get('error'))[:50]}: "
                               f"{str(failed[0].get('reason'))[:200]})")
        return [str(answer.get("id")) for answer in conflicts]

    # -- the object API ---------------------------------------------------------------
    def read_blob(self, name: str, need_version: bool = False) -> Blob | None:
        response = self._request("GET", self.path(name), f"GET {name}", ok=(404,))
        return None if response.status_code == 404 else decode_doc(response.json())

    def read_blobs(self, names: Sequence[str]) -> list[Blob | None]:
        unique = list(dict.fromkeys(names))
        found = {str(row.get("key")): decode_doc(row.get("doc"))
                 for row in self.all_docs(unique, include_docs=True)}
        return [found.get(name) for name in names]

    def write_blob(self, name: str, data: bytes, *, expires: float | None = None,
                   if_absent: bool = False, if_version: str | None = None) -> str | None:
        path = self.path(name)
        if if_absent or if_version is not None:
            response = self._request("PUT", path, f"PUT {name}", ok=(409,),
                                     json=encode_doc(name, data, expires, if_version))
            if response.status_code == 409:
                raise PreconditionFailed(f"{name}: document exists or changed")
            return _rev(response)
        rev = None
        for _ in range(ATTEMPTS):
            response = self._request("PUT", path, f"PUT {name}", ok=(409,),
                                     json=encode_doc(name, data, expires, rev))
            if response.status_code != 409:
                return _rev(response)
            rev = self.current_rev(name)  # Celery's way: on conflict, take the current revision
        raise BackendError(f"{name}: too much write contention ({ATTEMPTS} attempts)")

    def delete_blob(self, name: str) -> None:
        for _ in range(ATTEMPTS):
            rev = self.current_rev(name)
            if rev is None:
                return
            response = self._request("DELETE", self.path(name), f"DELETE {name}", ok=(404, 409),
                                     params={"rev": rev})
            if response.status_code != 409:
                return
        raise BackendError(f"{name}: too much write contention deleting it ({ATTEMPTS} attempts)")

    def delete_blobs(self, names: Sequence[str]) -> None:
        pending = list(dict.fromkeys(names))
        for _ in range(ATTEMPTS):
            revs = self._revs(pending) if pending else {}
            if not revs:
                return
            pending = self.bulk([{"_id": n, "_rev": r, "_deleted": True} for n, r in revs.items()],
                                "delete documents")
        raise BackendError(f"{len(pending)} documents kept changing while being deleted")

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        expires = self._deadline(ttl)
        pending = {self.name(k): bytes(v) for k, v in items.items()}
        revs: dict[str, str] = {}
        for _ in range(ATTEMPTS):
            if not pending:
                return
            docs = [encode_doc(name, data, expires, revs.get(name)) for name, data in pending.items()]
            conflicts = self.bulk(docs, "write documents")
            pending = {name: pending[name] for name in conflicts}
            revs = self._revs(list(pending)) if pending else {}
        raise BackendError(f"{len(pending)} documents kept changing while being written")

    def _rows(self, prefix: str, include_docs: bool) -> Iterator[dict[str, Any]]:
        """``_all_docs`` rows of ids starting with ``prefix``, page by page."""
        params: dict[str, Any] = {"startkey": json.dumps(prefix), "endkey": json.dumps(prefix + "\ufff0"),
                                  "limit": PAGE}
        if include_docs:
            params["include_docs"] = "true"
        while True:
            body = self._request("GET", f"{self.db}/_all_docs", "list documents", params=params).json()
            rows = [row for row in body.get("rows", []) if isinstance(row, dict)]
            yield from rows
            last = rows[-1].get("id") if rows else None
            if len(rows) < PAGE or not isinstance(last, str) or json.dumps(last) == params["startkey"]:
                return  # the last page (or an answer that would not advance)
            params.update(startkey=json.dumps(last), skip=1)

    def list_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        """Documents with their recorded expiry; ``modified`` is ``date_done`` (else now)."""
        now = time.time()
        for row in self._rows(prefix, include_docs=True):
            doc = row.get("doc")
            if isinstance(doc, dict) and isinstance(row.get("id"), str):
                yield BlobInfo(row["id"], date_done_of(doc) or now, expires_of(doc))

    def list_names(self, prefix: str) -> Iterator[str]:
        return (row["id"] for row in self._rows(prefix, include_docs=False)
                if isinstance(row.get("id"), str))

    def sdk_error_is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    # -- push, asyncio, naming -----------------------------------------------------------
    def subscriber(self, on_message: MessageHandler,
                   on_reconnect: Callable[[], None]) -> ChangesSubscriber:
        from .changes import ChangesSubscriber

        return ChangesSubscriber(self, on_message, on_reconnect)

    def aio(self) -> AsyncCouchDBStore:
        from .aio import AsyncCouchDBStore

        return AsyncCouchDBStore(self)

    def as_uri(self, include_password: bool = False) -> str:
        return self.config.as_uri(include_password)

    def close(self) -> None:
        client = self._client.peek()
        if client is not None:
            client.close()
        self._client.reset()
        super().close()


def _rev(response: httpx.Response) -> str | None:
    body = response.json()
    rev = body.get("rev") if isinstance(body, dict) else None
    return rev if isinstance(rev, str) else None
