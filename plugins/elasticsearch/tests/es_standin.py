"""A stand-in Elasticsearch server for the tests: the REST subset the official client and
Celery's ``ElasticsearchBackend`` use, over real HTTP, in memory.

Run as ``python es_standin.py PORT``.  What it speaks (Elasticsearch 8 semantics):

* ``GET /`` (cluster info); every response carries ``X-Elastic-Product: Elasticsearch``,
  which the client checks;
* documents: ``PUT|POST /<index>/_doc/<id>`` (``op_type=create``, ``if_seq_no`` +
  ``if_primary_term``), ``PUT|POST /<index>/_create/<id>``, ``GET``/``HEAD``/``DELETE
  /<index>/_doc/<id>``, ``POST /<index>/_update/<id>`` (``doc``, ``doc_as_upsert``,
  ``if_seq_no`` + ``if_primary_term``, ``noop`` detection), ``GET|POST /<index>/_mget``,
  ``POST [/<index>]/_bulk`` (NDJSON: index, create, delete);
* a 409 ``version_conflict_engine_exception`` on every failed precondition, ``_seq_no`` /
  ``_primary_term`` in responses, ``index_not_found_exception`` on reads of a missing index;
* ``POST /<index>/_delete_by_query`` with ``bool`` / ``range`` / ``exists`` / ``term`` /
  ``ids`` / ``match_all`` queries (dates compared as dates), ``POST [/<index>]/_refresh``,
  ``PUT|HEAD|DELETE /<index>``.

Not Elasticsearch: no mappings (so no mapping conflicts), no near-real-time search lag
(everything is visible at once), one shard, no persistence.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.Lock()
#: index -> id -> {"_source", "_seq_no", "_version"}
INDICES: dict[str, dict[str, dict[str, Any]]] = {}
SEQ = [0]
PRIMARY_TERM = 1


class Reply(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


def error(status: int, kind: str, reason: str, index: str | None = None) -> Reply:
    cause = {"type": kind, "reason": reason, **({"index": index} if index else {})}
    return Reply(status, {"error": {"root_cause": [cause], **cause}, "status": status})


def conflict(index: str, doc_id: str, reason: str) -> Reply:
    return error(409, "version_conflict_engine_exception", f"[{doc_id}]: version conflict, {reason}",
                 index)


def _existing(index: str) -> dict[str, dict[str, Any]]:
    if index not in INDICES:
        raise error(404, "index_not_found_exception", f"no such index [{index}]", index)
    return INDICES[index]


def _meta(index: str, doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"_index": index, "_id": doc_id, "_version": doc["_version"],
            "_seq_no": doc["_seq_no"], "_primary_term": PRIMARY_TERM}


def _check_preconditions(index: str, doc_id: str, current: dict[str, Any] | None,
                         params: dict[str, str]) -> None:
    if "if_seq_no" in params or "if_primary_term" in params:
        if current is None:
            raise conflict(index, doc_id, f"required seqNo [{params.get('if_seq_no')}], but no "
                           f"document was found")
        if (int(params.get("if_seq_no", -2)) != current["_seq_no"]
                or int(params.get("if_primary_term", -2)) != PRIMARY_TERM):
            raise conflict(index, doc_id, f"required seqNo [{params.get('if_seq_no')}], primary "
                           f"term [{params.get('if_primary_term')}]. current document has seqNo "
                           f"[{current['_seq_no']}] and primary term [{PRIMARY_TERM}]")


def write(index: str, doc_id: str, source: Any, params: dict[str, str],
          create: bool = False) -> tuple[int, dict[str, Any]]:
    """Index a document; the caller holds LOCK."""
    if not isinstance(source, dict):
        raise error(400, "mapper_parsing_exception", "failed to parse, document is empty")
    docs = INDICES.setdefault(index, {})
    current = docs.get(doc_id)
    if (create or params.get("op_type") == "create") and current is not None:
        raise conflict(index, doc_id, f"document already exists (current version "
                       f"[{current['_version']}])")
    _check_preconditions(index, doc_id, current, params)
    SEQ[0] += 1
    doc = {"_source": source, "_seq_no": SEQ[0],
           "_version": 1 if current is None else current["_version"] + 1}
    docs[doc_id] = doc
    result = "created" if current is None else "updated"
    return (201 if current is None else 200), {**_meta(index, doc_id, doc), "result": result,
                                               "_shards": {"total": 1, "successful": 1, "failed": 0}}


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def update(index: str, doc_id: str, body: dict[str, Any], params: dict[str, str]) -> tuple[int, Any]:
    docs = INDICES.setdefault(index, {})
    current = docs.get(doc_id)
    if current is None:
        if body.get("doc_as_upsert") or "upsert" in body:
            return write(index, doc_id, body.get("upsert", body.get("doc")), params)
        raise error(404, "document_missing_exception", f"[{doc_id}]: document missing", index)
    _check_preconditions(index, doc_id, current, params)
    merged = _merge(current["_source"], body.get("doc") or {})
    if merged == current["_source"] and body.get("detect_noop", True):
        return 200, {**_meta(index, doc_id, current), "result": "noop"}
    return write(index, doc_id, merged, {})


def _field(source: dict[str, Any], path: str) -> Any:
    value: Any = source
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return value


def matches(query: dict[str, Any], doc_id: str, source: dict[str, Any]) -> bool:
    (kind, spec), = query.items()
    if kind == "match_all":
        return True
    if kind == "ids":
        return doc_id in spec["values"]
    if kind == "exists":
        return _field(source, spec["field"]) is not None
    if kind == "term":
        (path, wanted), = spec.items()
        wanted = wanted["value"] if isinstance(wanted, dict) else wanted
        return bool(_field(source, path) == wanted)
    if kind == "range":
        (path, bounds), = spec.items()
        value = _field(source, path)
        if value is None:
            return False
        value = _comparable(value)
        checks = {"lt": lambda b: value < b, "lte": lambda b: value <= b,
                  "gt": lambda b: value > b, "gte": lambda b: value >= b}
        try:
            return all(checks[op](_comparable(bound)) for op, bound in bounds.items() if op in checks)
        except TypeError:
            return False
    if kind == "bool":
        def clauses(name: str) -> list[dict[str, Any]]:
            found = spec.get(name, [])
            return found if isinstance(found, list) else [found]

        if not all(matches(q, doc_id, source) for q in clauses("must") + clauses("filter")):
            return False
        if any(matches(q, doc_id, source) for q in clauses("must_not")):
            return False
        should = clauses("should")
        if should:
            needed = int(spec.get("minimum_should_match",
                                  0 if clauses("must") + clauses("filter") else 1))
            return sum(matches(q, doc_id, source) for q in should) >= needed
        return True
    raise error(400, "parsing_exception", f"unknown query [{kind}] (not in the stand-in)")


def bulk(default_index: str | None, lines: list[str]) -> dict[str, Any]:
    items = []
    pending = iter(lines)
    for line in pending:
        (action, meta), = json.loads(line).items()
        index, doc_id = meta.get("_index", default_index), meta.get("_id")
        try:
            if action == "delete":
                found = _existing(index).pop(doc_id, None)
                result = {"_index": index, "_id": doc_id, "status": 200 if found else 404,
                          "result": "deleted" if found else "not_found"}
            elif action in ("index", "create"):
                status, body = write(index, doc_id, json.loads(next(pending)), {},
                                     create=action == "create")
                result = {**body, "status": status}
            else:
                raise error(400, "illegal_argument_exception", f"bulk action {action}")
        except Reply as reply:
            result = {"_index": index, "_id": doc_id, "status": reply.status,
                      "error": reply.body["error"]}
        items.append({action: result})
    return {"took": 1, "errors": any("error" in i for e in items for i in e.values()),
            "items": items}


def route(method: str, path: str, params: dict[str, str], raw: bytes) -> tuple[int, Any]:
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    body: Any = None
    if raw and not path.endswith("_bulk"):
        body = json.loads(raw)
    if not parts:
        return 200, {"name": "standin", "cluster_name": "resultstore-standin", "tagline":
                     "You Know, for Search", "version": {"number": "8.15.0",
                                                       "build_flavor": "default"}}
    if parts == ["_refresh"] or parts[-1:] == ["_refresh"]:
        return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
    if parts[-1] == "_bulk":
        return 200, bulk(parts[0] if len(parts) == 2 else None,
                         [line for line in raw.decode().splitlines() if line.strip()])
    index = parts[0]
    if len(parts) == 1:
        if method == "HEAD":
            return (200 if index in INDICES else 404), None
        if method == "PUT":
            if index in INDICES:
                raise error(400, "resource_already_exists_exception",
                            f"index [{index}] already exists", index)
            INDICES[index] = {}
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}
        if method == "DELETE":
            _existing(index)
            del INDICES[index]
            return 200, {"acknowledged": True}
    if parts[1] == "_mget":
        docs = _existing(index)
        ids = body.get("ids") or [d["_id"] for d in body.get("docs", [])]
        return 200, {"docs": [{**_meta(index, i, docs[i]), "found": True,
                               "_source": docs[i]["_source"]} if i in docs else
                              {"_index": index, "_id": i, "found": False} for i in ids]}
    if parts[1] == "_delete_by_query":
        docs = _existing(index)
        doomed = [i for i, d in docs.items() if matches(body["query"], i, d["_source"])]
        for doc_id in doomed:
            del docs[doc_id]
        return 200, {"took": 1, "timed_out": False, "total": len(doomed), "deleted": len(doomed),
                     "batches": 1, "version_conflicts": 0, "noops": 0, "failures": []}
    if len(parts) == 3 and parts[1] in ("_doc", "_create", "_update"):
        doc_id = parts[2]
        if parts[1] == "_update":
            return update(index, doc_id, body, params)
        if method in ("PUT", "POST"):
            return write(index, doc_id, body, params, create=parts[1] == "_create")
        docs = _existing(index)
        if method == "DELETE":
            if doc_id not in docs:
                return 404, {"_index": index, "_id": doc_id, "result": "not_found"}
            doc = docs.pop(doc_id)
            SEQ[0] += 1
            return 200, {**_meta(index, doc_id, doc), "result": "deleted"}
        if doc_id not in docs:
            return 404, {"_index": index, "_id": doc_id, "found": False}
        return 200, {**_meta(index, doc_id, docs[doc_id]), "found": True,
                     "_source": docs[doc_id]["_source"]}
    raise error(400, "illegal_argument_exception", f"{method} {path} is not in the stand-in")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            with LOCK:
                status, body = route(self.command, url.path, params, raw)
        except Reply as reply:
            status, body = reply.status, reply.body
        except Exception as exc:
            status, body = 500, {"error": {"type": "standin_exception", "reason": repr(exc)},
                                 "status": 500}
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def main(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
