"""A stand-in Azure Cosmos DB (SQL API) gateway for the tests: the REST subset azure-cosmos 4
(our store, sync and aio) and pydocumentdb 2.3.5 (Celery's ``CosmosDBSQLBackend``) use, over
real HTTP, in memory.

Run as ``python cosmos_standin.py PORT``.  What it speaks:

* ``GET /``: the database account the clients read at start-up (one writable and readable
  location: this server);
* ``POST /dbs``, ``GET /dbs/<db>`` (409 on a duplicate id, 404 when absent);
* ``POST /dbs/<db>/colls``, ``GET|PUT /dbs/<db>/colls/<c>`` (``partitionKey``,
  ``defaultTtl``), ``GET /dbs/<db>/colls/<c>/pkranges`` (one range; ``If-None-Match`` with
  its ETag answers 304 as the change feed does);
* items: ``POST .../docs`` (create: 409 if the id exists; ``x-ms-documentdb-is-upsert``),
  ``GET|PUT|DELETE .../docs/<id>`` (``If-Match`` on the ``_etag``: 412; 404 when absent),
  every item with ``_rid``, ``_self``, ``_etag``, ``_ts``;
* queries: ``POST .../docs`` with ``x-ms-documentdb-isquery``: only
  ``SELECT * FROM c WHERE c.id IN (@p, ...)`` and ``SELECT * FROM c WHERE c.id = @p`` (the
  shapes ``read_items`` sends), anything else 400;
* per-item ``ttl`` as Cosmos DB applies it: only in a container with ``defaultTtl``; an item
  past ``_ts + ttl`` is gone (never returned, then deleted).

Keys are not checked (any ``authorization`` header is accepted); consistency, sessions, RUs and
partitions beyond one range are not modelled (``x-ms-session-token`` is echoed as ``0:1``).
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

LOCK = threading.Lock()
#: db -> {"props": {...}, "colls": {name -> {"props": {...}, "docs": {id -> item}}}}
DATABASES: dict[str, dict[str, Any]] = {}
PORT = [0]


class Reply(Exception):
    def __init__(self, status: int, body: Any = None) -> None:
        self.status, self.body = status, body


def fail(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message})


def _rid() -> str:
    return base64.b64encode(uuid.uuid4().bytes[:8]).decode().replace("/", "-")


def _meta(link: str) -> dict[str, Any]:
    return {"_rid": _rid(), "_self": link + "/", "_etag": f'"{uuid.uuid4()}"', "_ts": int(time.time())}


def _database(name: str) -> dict[str, Any]:
    if name not in DATABASES:
        raise fail(404, "NotFound", f"Resource Not Found: database {name}")
    return DATABASES[name]


def _collection(db: str, name: str) -> dict[str, Any]:
    colls = _database(db)["colls"]
    if name not in colls:
        raise fail(404, "NotFound", f"Resource Not Found: collection {name}")
    coll = colls[name]
    if coll["props"].get("defaultTtl") is not None:  # expired items are gone
        now = time.time()
        for item_id in [i for i, d in coll["docs"].items() if _expired(coll, d, now)]:
            del coll["docs"][item_id]
    return coll


def _expired(coll: dict[str, Any], item: dict[str, Any], now: float) -> bool:
    ttl = item.get("ttl", coll["props"].get("defaultTtl"))
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        return False
    return item["_ts"] + ttl <= now


def _write(db: str, coll_name: str, item: Any, *, upsert: bool, replace_id: str | None,
           if_match: str | None) -> tuple[int, dict[str, Any]]:
    coll = _collection(db, coll_name)
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        raise fail(400, "BadRequest", "The input content is invalid because the required "
                   "properties - 'id; ' - are missing")
    if any(c in item["id"] for c in "/\\?#"):
        raise fail(400, "BadRequest", "The input name is invalid.")
    item_id = replace_id or item["id"]
    docs = coll["docs"]
    current = docs.get(item_id)
    if replace_id is not None and current is None:
        raise fail(404, "NotFound", "Entity with the specified id does not exist in the system.")
    if if_match is not None and (current is None or current["_etag"] != if_match):
        raise fail(412, "PreconditionFailed", "Operation cannot be performed because one of "
                   "the specified precondition is not met.")
    if replace_id is None and current is not None and not upsert:
        raise fail(409, "Conflict", "Entity with the specified id already exists in the system.")
    stored = {k: v for k, v in item.items() if not k.startswith("_")}
    stored.update(_meta(f"dbs/{db}/colls/{coll_name}/docs/{item_id}"))
    if current is not None:
        stored["_rid"] = current["_rid"]
    docs[item_id] = stored
    return (200 if current is not None else 201), stored


_IN = re.compile(r"^SELECT \* FROM (\w+) WHERE \1\.id IN \(([@\w, ]*)\)$", re.I)
_EQ = re.compile(r"^SELECT \* FROM (\w+) WHERE \1\.id ?= ?(@\w+)$", re.I)


def _query(db: str, coll_name: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    text = " ".join(str(spec.get("query", "")).split())
    params = {p["name"]: p["value"] for p in spec.get("parameters") or []}
    match = _IN.match(text) or _EQ.match(text)
    if match is None:
        raise fail(400, "BadRequest", f"the stand-in does not run the query {text!r}")
    names = [n.strip() for n in match.group(2).split(",") if n.strip()]
    ids = [params.get(n) for n in names]
    docs = _collection(db, coll_name)["docs"]
    return [docs[i] for i in ids if isinstance(i, str) and i in docs]


def account() -> dict[str, Any]:
    endpoint = f"http://127.0.0.1:{PORT[0]}/"
    location = [{"name": "StandIn", "databaseAccountEndpoint": endpoint}]
    return {"_self": "", "id": "standin", "_rid": "standin.documents.azure.com", "media": "//media/",
            "addresses": "//addresses/", "_dbs": "//dbs/", "writableLocations": location,
            "readableLocations": location, "enableMultipleWriteLocations": False,
            "userReplicationPolicy": {"asyncReplication": False, "minReplicaSetSize": 1,
                                      "maxReplicasetSize": 4},
            "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
            "systemReplicationPolicy": {"minReplicaSetSize": 1, "maxReplicasetSize": 4},
            "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
            "queryEngineConfiguration": json.dumps({
                "maxSqlQueryInputLength": 262144, "maxJoinsPerSqlQuery": 5,
                "maxLogicalAndPerSqlQuery": 500, "maxLogicalOrPerSqlQuery": 500,
                "maxUdfRefPerSqlQuery": 10, "maxInExpressionItemsCount": 16000,
                "queryMaxInMemorySortDocumentCount": 500, "maxQueryRequestTimeoutFraction": 0.9,
                "sqlAllowNonFiniteNumbers": False, "sqlAllowAggregateFunctions": True,
                "sqlAllowSubQuery": True, "sqlAllowScalarSubQuery": True, "allowNewKeywords": True,
                "sqlAllowLike": True, "sqlAllowGroupByClause": True, "maxSpatialQueryCells": 12,
                "spatialMaxGeometryPointCount": 256, "sqlDisableQueryILOptimization": False,
                "sqlDisableFilterPlanOptimization": False})}


def route(method: str, path: str, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if not parts:
        return 200, account()
    if parts[0] != "dbs":
        raise fail(404, "NotFound", f"unknown path {path}")
    if len(parts) == 1:
        if method == "POST":
            name = payload["id"]
            if name in DATABASES:
                raise fail(409, "Conflict", "Resource with specified id or name already exists.")
            DATABASES[name] = {"props": {"id": name, **_meta(f"dbs/{name}")}, "colls": {}}
            return 201, DATABASES[name]["props"]
        return 200, {"Databases": [d["props"] for d in DATABASES.values()], "_count": len(DATABASES)}
    db = parts[1]
    if len(parts) == 2:
        if method == "DELETE":
            _database(db)
            del DATABASES[db]
            return 204, None
        return 200, _database(db)["props"]
    colls = _database(db)["colls"]
    if len(parts) == 3:
        if method == "POST":
            name = payload["id"]
            if name in colls:
                raise fail(409, "Conflict", "Resource with specified id or name already exists.")
            props = {**payload, **_meta(f"dbs/{db}/colls/{name}"),
                     "indexingPolicy": {"indexingMode": "consistent", "automatic": True}}
            colls[name] = {"props": props, "docs": {}, "ranges_etag": f'"{uuid.uuid4()}"'}
            return 201, props
        return 200, {"DocumentCollections": [c["props"] for c in colls.values()],
                     "_count": len(colls)}
    name = parts[3]
    coll = _collection(db, name)
    if len(parts) == 4:
        if method == "PUT":
            coll["props"] = {**payload, **{k: v for k, v in coll["props"].items()
                                           if k.startswith("_")}, "_etag": f'"{uuid.uuid4()}"'}
            if "defaultTtl" not in payload:
                coll["props"].pop("defaultTtl", None)
        return 200, coll["props"]
    if parts[4] == "pkranges":
        if headers.get("if-none-match") == coll["ranges_etag"]:
            raise Reply(304)
        rng = {"id": "0", "_rid": coll["props"]["_rid"], "minInclusive": "",
               "maxExclusive": "FF", "ridPrefix": 0, "throughputFraction": 1.0,
               "status": "online", "parents": [], "_etag": coll["ranges_etag"]}
        raise Reply(200, {"_rid": coll["props"]["_rid"], "PartitionKeyRanges": [rng], "_count": 1})
    if parts[4] != "docs":
        raise fail(404, "NotFound", f"unknown path {path}")
    if len(parts) == 5:
        if method == "POST" and headers.get("x-ms-documentdb-isquery", "").lower() == "true":
            found = _query(db, name, payload)
            return 200, {"_rid": coll["props"]["_rid"], "Documents": found, "_count": len(found)}
        if method == "POST":
            upsert = headers.get("x-ms-documentdb-is-upsert", "").lower() == "true"
            return _write(db, name, payload, upsert=upsert, replace_id=None,
                          if_match=headers.get("if-match"))
        docs = list(coll["docs"].values())
        return 200, {"_rid": coll["props"]["_rid"], "Documents": docs, "_count": len(docs)}
    item_id = "/".join(parts[5:])
    docs = coll["docs"]
    if method == "GET":
        if item_id not in docs:
            raise fail(404, "NotFound", "Entity with the specified id does not exist in the system.")
        if headers.get("if-none-match") == docs[item_id]["_etag"]:
            raise Reply(304)
        return 200, docs[item_id]
    if method == "PUT":
        return _write(db, name, payload, upsert=False, replace_id=item_id,
                      if_match=headers.get("if-match"))
    if method == "DELETE":
        if item_id not in docs:
            raise fail(404, "NotFound", "Entity with the specified id does not exist in the system.")
        if headers.get("if-match") not in (None, docs[item_id]["_etag"]):
            raise fail(412, "PreconditionFailed", "precondition not met")
        del docs[item_id]
        return 204, None
    raise fail(405, "MethodNotAllowed", f"{method} {path}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = json.loads(raw) if raw else None
            with LOCK:
                try:
                    status, body = route(self.command, split.path, headers, payload)
                except Reply as reply:
                    status, body = reply.status, reply.body
        except (ValueError, KeyError, TypeError) as exc:
            status, body = 400, {"code": "BadRequest", "message": f"bad request: {exc}"}
        if "--log" in sys.argv:
            print(self.command, self.path, status, file=sys.stderr, flush=True)
        data = b"" if body is None or status == 304 else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-charge", "1")
        self.send_header("x-ms-activity-id", str(uuid.uuid4()))
        self.send_header("x-ms-session-token", "0:1")
        if isinstance(body, dict):
            if "_etag" in body:
                self.send_header("etag", body["_etag"])
            if "Documents" in body:
                self.send_header("x-ms-item-count", str(len(body["Documents"])))
            if "PartitionKeyRanges" in body:
                self.send_header("etag", body["PartitionKeyRanges"][0]["_etag"])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    PORT[0] = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", PORT[0]), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
