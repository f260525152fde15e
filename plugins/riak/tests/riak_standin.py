"""A stand-in Riak KV node for the tests: the HTTP API subset resultstore-riak uses (and
Celery's former backend's objects), over real HTTP, in memory.

Run as ``python riak_standin.py PORT``.  What it speaks (Riak KV 2.x/3.x HTTP API):

* ``GET /ping``; ``GET /types/<type>/props`` (``consistent``, ``allow_mult``);
* objects: ``GET``/``HEAD``/``PUT``/``POST``/``DELETE`` on
  ``/types/<type>/buckets/<bucket>/keys/<key>`` and on ``/buckets/<bucket>/keys/<key>``
  (the ``default`` type); ``Content-Type``, ``X-Riak-Meta-*``, ``X-Riak-Vclock``,
  ``Last-Modified`` and ``ETag`` kept and returned; ``If-None-Match: *`` answers ``412``
  when the object exists;
* key listing ``GET .../keys?keys=true``.

Bucket types: ``default`` (eventually consistent, ``allow_mult=false``: a write replaces the
object), ``siblings`` (``allow_mult=true``: a write without the current vector clock adds a
sibling, answered ``300``, or ``multipart/mixed`` with ``Accept: multipart/mixed``) and
``strong`` (``consistent=true``: a write to an existing object needs its current vector
clock, else ``412``; the create-if-absent and the vector-clock check are atomic, as Riak's
strong consistency makes them).

Not Riak: one node, everything applied at once under one lock (so on ``default`` the
conditional headers are also atomic here, which Riak does not promise: the plugin only relies
on them on ``strong``), no read repair, no tombstones, no secondary indexes, no search.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.Lock()
TYPES = {"default": {"consistent": False, "allow_mult": False},
         "siblings": {"consistent": False, "allow_mult": True},
         "strong": {"consistent": True, "allow_mult": False}}
#: (type, bucket, key) -> {"vclock": str, "siblings": [sibling, ...]}
OBJECTS: dict[tuple[str, str, str], dict[str, Any]] = {}


def sibling(body: bytes, headers: Any) -> dict[str, Any]:
    meta = {k: v for k, v in headers.items() if k.lower().startswith("x-riak-meta-")}
    return {"body": body, "type": headers.get("Content-Type") or "application/octet-stream",
            "meta": meta, "modified": time.time(), "etag": hashlib.md5(body).hexdigest()}


def _headers(sib: dict[str, Any]) -> dict[str, str]:
    return {"Content-Type": sib["type"], "ETag": f'"{sib["etag"]}"',
            "Last-Modified": email.utils.formatdate(sib["modified"], usegmt=True), **sib["meta"]}


def get(key: tuple[str, str, str], headers: Any) -> tuple[int, dict[str, str], bytes]:
    found = OBJECTS.get(key)
    if found is None:
        return 404, {"Content-Type": "text/plain"}, b"not found\n"
    vclock = {"X-Riak-Vclock": found["vclock"]}
    siblings = found["siblings"]
    if len(siblings) == 1:
        return 200, {**_headers(siblings[0]), **vclock}, siblings[0]["body"]
    if "multipart/mixed" in (headers.get("Accept") or ""):
        boundary = uuid.uuid4().hex
        parts = []
        for sib in siblings:
            head = "".join(f"{k}: {v}\r\n" for k, v in _headers(sib).items())
            parts.append(f"\r\n--{boundary}\r\n{head}\r\n".encode() + sib["body"])
        body = b"".join(parts) + f"\r\n--{boundary}--\r\n".encode()
        return 300, {"Content-Type": f"multipart/mixed; boundary={boundary}", **vclock}, body
    listing = "Siblings:\n" + "".join(s["etag"] + "\n" for s in siblings)
    return 300, {"Content-Type": "text/plain", **vclock}, listing.encode()


def put(key: tuple[str, str, str], body: bytes, headers: Any) -> tuple[int, dict[str, str], bytes]:
    props = TYPES[key[0]]
    found = OBJECTS.get(key)
    vclock = headers.get("X-Riak-Vclock")
    if headers.get("If-None-Match") == "*" and found is not None:
        return 412, {"Content-Type": "text/plain"}, b"precondition failed\n"
    if props["consistent"] and found is not None and vclock != found["vclock"]:
        return 412, {"Content-Type": "text/plain"}, b"modified\n"  # a stale causal context
    new = sibling(body, headers)
    if found is not None and props["allow_mult"] and vclock != found["vclock"]:
        siblings = [*found["siblings"], new]
    else:
        siblings = [new]
    OBJECTS[key] = {"vclock": uuid.uuid4().hex, "siblings": siblings}
    return 204, {"X-Riak-Vclock": OBJECTS[key]["vclock"]}, b""


def route(method: str, path: str, params: dict[str, str], headers: Any,
          raw: bytes) -> tuple[int, dict[str, str], bytes]:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts == ["ping"]:
        return 200, {"Content-Type": "text/plain"}, b"OK"
    if len(parts) == 3 and parts[0] == "types" and parts[2] == "props":
        if parts[1] not in TYPES:
            return 404, {"Content-Type": "text/plain"}, b"bucket type not found\n"
        body = json.dumps({"props": {"name": parts[1], **TYPES[parts[1]]}}).encode()
        return 200, {"Content-Type": "application/json"}, body
    if parts[:1] == ["buckets"]:
        parts = ["types", "default", *parts]
    if len(parts) < 5 or parts[0] != "types" or parts[2] != "buckets" or parts[4] != "keys":
        return 400, {"Content-Type": "text/plain"}, f"{method} {path}: not in the stand-in".encode()
    kind, bucket = parts[1], parts[3]
    if kind not in TYPES:
        return 404, {"Content-Type": "text/plain"}, b"no such bucket type\n"
    if len(parts) == 5:
        if params.get("keys") not in ("true", "stream"):
            return 400, {"Content-Type": "text/plain"}, b"keys=true expected\n"
        keys = [k for (t, b, k) in OBJECTS if (t, b) == (kind, bucket)]
        return 200, {"Content-Type": "application/json"}, json.dumps({"keys": keys}).encode()
    key = (kind, bucket, "/".join(parts[5:]))
    if method in ("GET", "HEAD"):
        return get(key, headers)
    if method in ("PUT", "POST"):
        return put(key, raw, headers)
    if method == "DELETE":
        found = OBJECTS.get(key)
        if found is None:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        vclock = headers.get("X-Riak-Vclock")
        if TYPES[kind]["consistent"] and vclock is not None and vclock != found["vclock"]:
            return 412, {"Content-Type": "text/plain"}, b"modified\n"
        del OBJECTS[key]
        return 204, {}, b""
    return 405, {"Content-Type": "text/plain"}, b"method not allowed\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            with LOCK:
                status, headers, body = route(self.command, url.path, params, self.headers, raw)
        except Exception as exc:
            status, headers, body = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
