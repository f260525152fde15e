"""A stand-in Consul agent for the tests: the HTTP API subset resultstore-consul and
python-consul2 (Celery's ``ConsulBackend``) use, over real HTTP, in memory.

Run as ``python consul_standin.py PORT``.  What it speaks (Consul 1.x semantics, from
Consul's HTTP API documentation):

* KV: ``GET /v1/kv/<key>`` (``?recurse``, ``?keys``, ``?consistent``/``?stale``, blocking
  ``?index=&wait=``; ``X-Consul-Index`` on every answer), ``PUT /v1/kv/<key>`` (``?cas``,
  ``?flags``, ``?acquire``, ``?release``; answers ``true``/``false``; ``acquire`` overrides
  ``cas`` as in Consul's endpoint and fails on a key held by another session),
  ``DELETE /v1/kv/<key>`` (``?recurse``, ``?cas``);
* sessions: ``PUT /v1/session/create`` (``Name``, ``Behavior``, ``TTL`` 10s..24h, field
  names case-insensitive as Go's JSON decoder), ``PUT /v1/session/destroy/<id>``,
  ``GET /v1/session/info/<id>``; a TTL session is invalidated once its TTL has passed
  (Consul: between TTL and twice the TTL), deleting (``delete``) or releasing its keys;
* ``PUT /v1/txn`` with the KV verbs set, cas, lock, unlock, get, get-tree, check-index,
  check-session, check-not-exists, delete, delete-cas: all or nothing, 409 with
  ``Errors`` when an operation fails, at most 64 operations.

Not Consul: one node, no ACLs (a token header is accepted and ignored), no lock-delay, no
persistence, no datacenters.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class Store(dict):  # type: ignore[type-arg]
    """The KV entries, with a sorted key list for prefix reads (rebuilt after a key is added
    or removed), so a prefix costs O(log n + matches) however many keys the session left."""

    def __init__(self) -> None:
        super().__init__()
        self._sorted: list[str] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self:
            self._sorted = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._sorted = None

    def pop(self, key: str, *default: Any) -> Any:
        self._sorted = None
        return super().pop(key, *default)

    def prefixed(self, prefix: str) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self)
        start = bisect.bisect_left(self._sorted, prefix)
        end = start
        while end < len(self._sorted) and self._sorted[end].startswith(prefix):
            end += 1
        return self._sorted[start:end]


LOCK = threading.Lock()
CHANGED = threading.Condition(LOCK)
KV = Store()
SESSIONS: dict[str, dict[str, Any]] = {}
INDEX = [1]
MAX_OPS = 64


class Reply(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


class TxnFailed(Exception):
    pass


def bump() -> int:
    INDEX[0] += 1
    return INDEX[0]


def _duration(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text or "")
    if not match:
        raise Reply(400, f"Request decode failed: invalid duration {text!r}")
    return float(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2]]


def expire_sessions() -> None:
    now = time.monotonic()
    for sid in [s for s, v in SESSIONS.items() if v["deadline"] and v["deadline"] <= now]:
        invalidate(sid)


def invalidate(sid: str) -> None:
    session = SESSIONS.pop(sid)
    for key in [k for k, e in KV.items() if e.get("Session") == sid]:
        if session["Behavior"] == "delete":
            del KV[key]
        else:
            KV[key].pop("Session")
            KV[key]["ModifyIndex"] = bump()
    bump()
    CHANGED.notify_all()


def entry(key: str) -> dict[str, Any]:
    return {k: v for k, v in KV[key].items() if v is not None}


def kv_set(key: str, value: bytes | None, flags: int | None, session: str | None = None,
           release: bool = False) -> None:
    index = bump()
    current = KV.get(key)
    new = {"Key": key, "CreateIndex": current["CreateIndex"] if current else index,
           "ModifyIndex": index, "LockIndex": current.get("LockIndex", 0) if current else 0,
           "Flags": flags if flags is not None else (current or {}).get("Flags", 0),
           "Value": base64.b64encode(value).decode() if value else None}
    held = current.get("Session") if current else None
    if session and not release:
        if held != session:
            new["LockIndex"] += 1
        new["Session"] = session
    elif held and not release:
        new["Session"] = held
    KV[key] = new
    CHANGED.notify_all()


def lock(key: str, value: bytes | None, flags: int | None, session: str) -> bool:
    if session not in SESSIONS:
        raise Reply(500, f"invalid session {session!r}")
    held = KV.get(key, {}).get("Session")
    if held and held != session:
        return False
    kv_set(key, value, flags, session)
    return True


def unlock(key: str, value: bytes | None, flags: int | None, session: str) -> bool:
    if KV.get(key, {}).get("Session") != session:
        return False
    kv_set(key, value, flags, session, release=True)
    return True


def delete(key: str, recurse: bool = False) -> None:
    for name in KV.prefixed(key) if recurse else [key]:
        KV.pop(name, None)
    bump()
    CHANGED.notify_all()


def kv_index(key: str, recurse: bool) -> int:
    if recurse:
        return max([KV[k]["ModifyIndex"] for k in KV.prefixed(key)] or [INDEX[0]])
    return KV[key]["ModifyIndex"] if key in KV else INDEX[0]


def kv_get(key: str, params: dict[str, str]) -> tuple[int, Any, int]:
    recurse = "recurse" in params or "keys" in params
    if "index" in params:
        wanted = int(params["index"])
        deadline = time.monotonic() + min(_duration(params.get("wait", "5m")), 600)
        while kv_index(key, recurse) <= wanted and time.monotonic() < deadline:
            CHANGED.wait(min(deadline - time.monotonic(), 0.5))
            expire_sessions()
    index = kv_index(key, recurse)
    if "keys" in params:
        names = KV.prefixed(key)
        return (200 if names else 404), names, index
    if recurse:
        found = [entry(k) for k in KV.prefixed(key)]
        return (200 if found else 404), found, index
    return (200, [entry(key)], index) if key in KV else (404, None, index)


def kv_put(key: str, params: dict[str, str], raw: bytes) -> bool:
    flags = int(params["flags"]) if "flags" in params else None
    if "release" in params:
        return unlock(key, raw, flags, params["release"])
    if "acquire" in params:
        return lock(key, raw, flags, params["acquire"])
    if "cas" in params:
        cas = int(params["cas"])
        current = KV.get(key)
        if (cas == 0 and current is not None) or (cas and (not current or current["ModifyIndex"] != cas)):
            return False
    kv_set(key, raw, flags)
    return True


def _op(op: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in op.items()}


def txn(ops: list[Any]) -> tuple[int, Any]:
    if len(ops) > MAX_OPS:
        raise Reply(413, f"Transaction contains too many operations ({len(ops)} > {MAX_OPS})")
    touched: dict[str, Any] = {}  # the entries before the transaction, for a rollback
    first_index = INDEX[0]
    results: list[Any] = []
    try:
        for position, wrapped in enumerate(ops):
            op = _op(wrapped.get("KV") or wrapped.get("kv"))
            verb, key = op["verb"], op["key"]
            if key not in touched:
                touched[key] = copy.deepcopy(KV.get(key))
            value = base64.b64decode(op["value"]) if op.get("value") else None
            flags, index, session = op.get("flags"), op.get("index"), op.get("session")
            current = KV.get(key)
            failed = None
            if verb == "set":
                kv_set(key, value, flags)
            elif verb == "cas":
                if (index == 0 and current) or (index and (not current or current["ModifyIndex"] != index)):
                    failed = "failed to set key, index is stale"
                else:
                    kv_set(key, value, flags)
            elif verb == "lock":
                if not lock(key, value, flags, session):
                    failed = f"failed to lock key {key!r}, lock is already held"
            elif verb == "unlock":
                if not unlock(key, value, flags, session):
                    failed = f"failed to unlock key {key!r}, lock isn't held"
            elif verb == "get":
                if current is None:
                    failed = f"key {key!r} doesn't exist"
            elif verb == "get-tree":
                results += [{"KV": entry(k)} for k in KV.prefixed(key)]
                continue
            elif verb == "check-index":
                if not current or current["ModifyIndex"] != index:
                    failed = f"current modify index {current and current['ModifyIndex']} != {index}"
            elif verb == "check-session":
                if not current or current.get("Session") != session:
                    failed = f"key {key!r} is not locked by session {session!r}"
            elif verb == "check-not-exists":
                if current is not None:
                    failed = f"key {key!r} exists"
            elif verb == "delete":
                KV.pop(key, None)
                bump()
                continue
            elif verb == "delete-cas":
                if not current or current["ModifyIndex"] != index:
                    failed = "failed to delete key, index is stale"
                else:
                    KV.pop(key)
                    bump()
                continue
            else:
                raise Reply(400, f"unknown KV verb {verb!r}")
            if failed:
                raise TxnFailed(json.dumps([{"OpIndex": position, "What": failed}]))
            if key in KV and verb not in ("delete", "delete-cas"):
                result = entry(key)
                if verb not in ("get",):
                    result.pop("Value", None)
                results.append({"KV": result})
    except TxnFailed as failure:
        for key, before in touched.items():
            if before is None:
                KV.pop(key, None)
            else:
                KV[key] = before
        INDEX[0] = first_index
        return 409, {"Results": None, "Errors": json.loads(str(failure))}
    CHANGED.notify_all()
    return 200, {"Results": results, "Errors": None}


def session_create(body: dict[str, Any]) -> dict[str, Any]:
    fields = {k.lower(): v for k, v in (body or {}).items()}
    ttl = _duration(fields["ttl"]) if fields.get("ttl") else 0.0
    if ttl and not 10 <= ttl <= 86400:
        raise Reply(400, f"Request decode failed: Invalid Session TTL '{fields['ttl']}', must be "
                         f"between [10s=24h0m0s]")
    behavior = fields.get("behavior") or "release"
    if behavior not in ("release", "delete"):
        raise Reply(400, f"Invalid Behavior setting '{behavior}'")
    sid = str(uuid.uuid4())
    SESSIONS[sid] = {"ID": sid, "Name": fields.get("name", ""), "Behavior": behavior,
                     "TTL": fields.get("ttl", ""), "CreateIndex": bump(),
                     "deadline": time.monotonic() + ttl if ttl else None}
    return {"ID": sid}


def route(method: str, path: str, params: dict[str, str], raw: bytes) -> tuple[int, Any, int]:
    expire_sessions()
    if path.startswith("/v1/kv/"):
        key = unquote(path[len("/v1/kv/"):])
        if method == "GET":
            return kv_get(key, params)
        if method == "PUT":
            return 200, kv_put(key, params, raw), INDEX[0]
        if method == "DELETE":
            if "cas" in params:
                current = KV.get(key)
                if not current or current["ModifyIndex"] != int(params["cas"]):
                    return 200, False, INDEX[0]
            delete(key, "recurse" in params)
            return 200, True, INDEX[0]
    if path == "/v1/txn" and method == "PUT":
        status, body = txn(json.loads(raw or b"[]"))
        return status, body, INDEX[0]
    if path == "/v1/session/create" and method == "PUT":
        return 200, session_create(json.loads(raw) if raw else {}), INDEX[0]
    if path.startswith("/v1/session/destroy/") and method == "PUT":
        sid = path.rsplit("/", 1)[1]
        if sid in SESSIONS:
            invalidate(sid)
        return 200, True, INDEX[0]
    if path.startswith("/v1/session/info/"):
        sid = path.rsplit("/", 1)[1]
        found = SESSIONS.get(sid)
        return 200, [{k: v for k, v in found.items() if k != "deadline"}] if found else None, INDEX[0]
    if path == "/v1/status/leader":
        return 200, "127.0.0.1:8300", INDEX[0]
    raise Reply(405, f"{method} {path} is not in the stand-in")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        index = 0
        try:
            with LOCK:
                status, body, index = route(self.command, url.path, params, raw)
        except Reply as reply:
            status, body = reply.status, reply.body
        except Exception as exc:
            status, body = 500, f"stand-in error: {exc!r}"
        data = (body if isinstance(body, str) and status >= 400 else json.dumps(body)).encode()
        if status == 404 and body is None:
            data = b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 400 else "text/plain")
        self.send_header("X-Consul-Index", str(index or INDEX[0]))
        self.send_header("X-Consul-KnownLeader", "true")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = _handle


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
