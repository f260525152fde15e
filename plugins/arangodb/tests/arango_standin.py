"""A stand-in ArangoDB server for the tests: the REST subset python-arango (our store) and
pyArango (Celery's ``ArangoDbBackend``) use, over real HTTP, in memory.

Run as ``python arango_standin.py PORT``.  What it speaks (ArangoDB 3.x semantics), under
``/_db/<database>`` or (``_system``) without it:

* ``GET /_api/version``, ``GET /_api/database/user``, ``POST /_api/database``;
* ``GET|POST /_api/collection`` (409 error 1207 on a duplicate name, 404 error 1228 in a
  missing database), ``GET /_api/collection/<name>[/properties]``, ``GET /_api/gharial``;
* ``GET|POST /_api/index?collection=`` (``ttl``/``persistent``; the same definition
  again returns the existing index);
* documents: ``GET|DELETE /_api/document/<c>/<key>`` (404 error 1202),
  ``POST /_api/document/<c>`` single or array (409 error 1210 unique constraint,
  ``overwriteMode``), ``PUT /_api/document/<c>/<key>`` (``_rev`` with ``ignoreRevs=false``
  or ``If-Match``: 412 error 1200), ``PUT /_api/document/<c>?onlyget=true``,
  ``DELETE /_api/document/<c>`` (array);
* ``POST /_api/cursor``: not an AQL engine: it answers the exact queries resultstore and
  Celery's backend send (:data:`QUERIES`, matched on whitespace-normalized text) and
  refuses any other with error 1501 (syntax error);
* a TTL index removes expired documents when a request touches the collection (ArangoDB
  does it in a background sweep every 30 s by default).

Authentication headers are accepted and not checked.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.Lock()
#: database -> collection -> key -> document
DATABASES: dict[str, dict[str, dict[str, dict[str, Any]]]] = {"_system": {}}
#: (database, collection) -> index definitions
INDEXES: dict[tuple[str, str], list[dict[str, Any]]] = {}
REV = [0]


class Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


def error(status: int, num: int, message: str) -> Reply:
    return Reply(status, {"error": True, "errorNum": num, "errorMessage": message, "code": status})


def flag(params: dict[str, str], name: str) -> bool | None:
    """A boolean query parameter as ArangoDB reads it (``true``/``1``, ``false``/``0``)."""
    value = params.get(name)
    return None if value is None else value.lower() in ("true", "1")


def _rev() -> str:
    REV[0] += 1
    return f"_r{REV[0]:08d}"


def _database(name: str) -> dict[str, dict[str, dict[str, Any]]]:
    if name not in DATABASES:
        raise error(404, 1228, "database not found")
    return DATABASES[name]


def _collection(db: str, name: str) -> dict[str, dict[str, Any]]:
    collections = _database(db)
    if name not in collections:
        raise error(404, 1203, f"collection or view not found: {name}")
    _sweep(db, name)
    return collections[name]


def _sweep(db: str, name: str) -> None:
    """The TTL index's work (``expireAfter`` seconds after the field's epoch time)."""
    now = time.time()
    for index in INDEXES.get((db, name), []):
        if index["type"] != "ttl":
            continue
        field, after = index["fields"][0], index.get("expireAfter", 0)
        docs = DATABASES[db][name]
        for key in [k for k, d in docs.items() if isinstance(d.get(field), (int, float))
                    and d[field] + after <= now]:
            del docs[key]


def _meta(coll: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"_id": f"{coll}/{doc['_key']}", "_key": doc["_key"], "_rev": doc["_rev"]}


def _item_error(num: int, message: str) -> dict[str, Any]:
    return {"error": True, "errorNum": num, "errorMessage": message}


def _insert(db: str, coll: str, doc: Any, params: dict[str, str]) -> dict[str, Any]:
    docs = _collection(db, coll)
    if not isinstance(doc, dict) or not isinstance(doc.get("_key"), str):
        raise error(400, 1221, "illegal document key")
    key = doc["_key"]
    mode = params.get("overwriteMode") or ("replace" if flag(params, "overwrite") else None)
    stored = {k: v for k, v in doc.items() if k not in ("_id", "_rev")}
    if key in docs:
        if mode is None or mode == "conflict":
            raise error(409, 1210, "unique constraint violated - in index primary of type "
                        "primary over '_key'; conflicting key: " + key)
        if mode == "ignore":
            return _meta(coll, docs[key])
        if mode == "update":
            stored = {**docs[key], **stored}
    stored["_id"], stored["_rev"] = f"{coll}/{key}", _rev()
    docs[key] = stored
    return _meta(coll, stored)


def _replace(db: str, coll: str, key: str, doc: Any, params: dict[str, str],
             if_match: str | None) -> dict[str, Any]:
    docs = _collection(db, coll)
    if key not in docs:
        raise error(404, 1202, "document not found")
    expected = if_match or (doc.get("_rev") if flag(params, "ignoreRevs") is False else None)
    if expected and expected.strip('"') != docs[key]["_rev"]:
        raise Reply(412, {"error": True, "errorNum": 1200, "code": 412,
                          "errorMessage": "conflict, _rev values do not match",
                          **_meta(coll, docs[key])})
    stored = {k: v for k, v in doc.items() if k not in ("_id", "_rev", "_key")}
    stored.update({"_key": key, "_id": f"{coll}/{key}", "_rev": _rev()})
    docs[key] = stored
    return _meta(coll, stored)


# -- the AQL this stand-in answers -----------------------------------------------------------
def _doc(db: str, coll: str, key: Any) -> dict[str, Any] | None:
    return _collection(db, coll).get(key) if isinstance(key, str) else None


def _field(doc: dict[str, Any] | None, name: str) -> Any:
    return None if doc is None else doc.get(name)


def _celery_upsert(db: str, v: dict[str, Any]) -> list[Any]:
    docs = _collection(db, v["@collection"])
    key = v["key"]
    if key in docs:
        docs[key] = {**docs[key], "task": v["value"], "_rev": _rev()}
    else:
        docs[key] = {"_key": key, "_id": f"{v['@collection']}/{key}", "task": v["value"],
                     "_rev": _rev()}
    return []


def _celery_remove(db: str, v: dict[str, Any]) -> list[Any]:
    _collection(db, v["@collection"]).pop(v["key"], None)
    return []


def _parts(db: str, v: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in _collection(db, v["@col"]).values() if d.get("chord") == v["group"]]


def _clear(db: str, v: dict[str, Any]) -> list[Any]:
    docs = _collection(db, v["@col"])
    for doc in _parts(db, v):
        docs.pop(doc["_key"], None)
    return []


def _progress(db: str, v: dict[str, Any]) -> list[Any]:
    chord = _doc(db, v["@col"], v["chord"])
    return [{"size": _field(chord, "size"), "grow": _field(chord, "grow"),
             "count": len(_parts(db, v))}]


QUERIES: dict[str, Callable[[str, dict[str, Any]], list[Any]]] = {
    # Celery's ArangoDbBackend (celery/backends/arangodb.py)
    "RETURN DOCUMENT(@@collection, @key).task":
        lambda db, v: [_field(_doc(db, v["@collection"], v["key"]), "task")],
    "UPSERT {_key: @key} INSERT {_key: @key, task: @value} UPDATE {task: @value} IN @@collection":
        _celery_upsert,
    "FOR k IN @keys RETURN DOCUMENT(@@collection, k).task":
        lambda db, v: [_field(_doc(db, v["@collection"], k), "task") for k in v["keys"]],
    "REMOVE {_key: @key} IN @@collection OPTIONS { ignoreErrors: true }": _celery_remove,
    # resultstore_arangodb.chords
    "LET c = DOCUMENT(@@col, @chord) RETURN {size: c.size, grow: c.grow, count: LENGTH(FOR d "
    "IN @@col FILTER d.chord == @group RETURN 1)}": _progress,
    "FOR d IN @@col FILTER d.chord == @group RETURN d": _parts,
    "FOR d IN @@col FILTER d.chord == @group REMOVE d IN @@col": _clear,
}


def cursor(db: str, body: dict[str, Any]) -> dict[str, Any]:
    text = " ".join(str(body.get("query", "")).split())
    handler = QUERIES.get(text)
    if handler is None:
        raise error(400, 1501, f"AQL: syntax error (the stand-in does not know {text!r})")
    result = [json.loads(json.dumps(r)) for r in handler(db, dict(body.get("bindVars") or {}))]
    return {"result": result, "hasMore": False, "count": len(result), "cached": False,
            "extra": {"warnings": [], "stats": {}}, "error": False, "code": 201}


# -- routing ---------------------------------------------------------------------------------
def route(method: str, path: str, params: dict[str, str], payload: Any,
          headers: dict[str, str]) -> tuple[int, Any]:
    db = "_system"
    match = re.match(r"^/_db/([^/]+)(/.*)$", path)
    if match:
        db, path = unquote(match.group(1)), match.group(2)
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["_api", "version"]:
        return 200, {"server": "arango", "version": "3.12.0", "license": "community"}
    if parts[:2] == ["_api", "database"]:
        if method == "POST":
            DATABASES.setdefault(payload["name"], {})
            return 201, {"result": True, "error": False, "code": 201}
        return 200, {"result": sorted(DATABASES), "error": False, "code": 200}
    if parts[:2] == ["_api", "gharial"]:
        return 200, {"graphs": [], "error": False, "code": 200}
    if parts[:2] == ["_api", "collection"]:
        collections = _database(db)
        if method == "POST":
            if payload["name"] in collections:
                raise error(409, 1207, "duplicate name")
            collections[payload["name"]] = {}
        if method == "POST" or len(parts) > 2:
            name = payload["name"] if method == "POST" else parts[2]
            if name not in collections:
                raise error(404, 1203, "collection or view not found")
            return 200, {"name": name, "id": name, "type": 2, "status": 3, "isSystem": False,
                         "waitForSync": False, "keyOptions": {"type": "traditional"},
                         "error": False, "code": 200}
        return 200, {"result": [{"name": n, "id": n, "type": 2, "status": 3, "isSystem": False}
                                for n in collections], "error": False, "code": 200}
    if parts[:2] == ["_api", "index"] and method == "GET":
        coll = params["collection"]
        _collection(db, coll)
        primary = {"id": f"{coll}/0", "type": "primary", "fields": ["_key"], "unique": True,
                   "sparse": False}
        return 200, {"indexes": [primary, *INDEXES.get((db, coll), [])], "error": False,
                     "code": 200}
    if parts[:2] == ["_api", "index"] and method == "POST":
        coll = params["collection"]
        _collection(db, coll)
        indexes = INDEXES.setdefault((db, coll), [])
        for index in indexes:
            if {k: v for k, v in index.items() if k not in ("id", "isNewlyCreated")} == payload:
                return 200, {**index, "isNewlyCreated": False, "error": False, "code": 200}
        index = {**payload, "id": f"{coll}/{len(indexes) + 1}"}
        indexes.append(index)
        return 201, {**index, "isNewlyCreated": True, "error": False, "code": 201}
    if parts[:2] == ["_api", "cursor"] and method == "POST":
        return 201, cursor(db, payload)
    if parts[:2] == ["_api", "document"] and len(parts) >= 3:
        coll = parts[2]
        key = "/".join(parts[3:]) or None
        docs = _collection(db, coll)
        if method == "GET" and key:
            if key not in docs:
                raise error(404, 1202, "document not found")
            return 200, docs[key]
        if method == "DELETE" and key:
            if key not in docs:
                raise error(404, 1202, "document not found")
            return 202, _meta(coll, docs.pop(key))
        if method == "POST" and not key:
            if isinstance(payload, list):
                return 202, [_try(lambda d=d: _insert(db, coll, d, params)) for d in payload]
            return 202, _insert(db, coll, payload, params)
        if method == "PUT" and key:
            return 202, _replace(db, coll, key, payload, params, headers.get("if-match"))
        if method == "PUT" and flag(params, "onlyget"):
            return 200, [dict(docs[k]) if isinstance(k, str) and k in docs
                         else _item_error(1202, "document not found") for k in payload]
        if method == "DELETE" and not key:
            keys = [k.get("_key") if isinstance(k, dict) else k for k in payload]
            return 200, [_meta(coll, docs.pop(k)) if k in docs
                         else _item_error(1202, "document not found") for k in keys]
    raise error(404, 404, f"unknown path {method} {path}")


def _try(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return call()
    except Reply as reply:
        return dict(reply.body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes

    def _handle(self) -> None:
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw else None
            with LOCK:
                status, body = route(self.command, split.path, params, payload,
                                     {k.lower(): v for k, v in self.headers.items()})
            headers: dict[str, str] = {}
            if isinstance(body, list) and self.command in ("POST", "DELETE"):
                codes: dict[str, int] = {}
                for item in body:
                    if isinstance(item, dict) and item.get("error"):
                        codes[str(item["errorNum"])] = codes.get(str(item["errorNum"]), 0) + 1
                if codes:
                    headers["X-Arango-Error-Codes"] = json.dumps(codes)
        except Reply as reply:
            status, body, headers = reply.status, reply.body, reply.headers
        except (ValueError, KeyError, TypeError) as exc:
            status, body, headers = 400, {"error": True, "errorNum": 600, "code": 400,
                                          "errorMessage": f"bad request: {exc}"}, {}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if isinstance(body, dict) and "_rev" in body:
            self.send_header("Etag", f'"{body["_rev"]}"')
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
