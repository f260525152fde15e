"""Lua scripts: the guarded store and Celery 5.7's chord protocol.

The chord scripts keep Celery 5.7's keys (``G.j G.t G.s G.d G G.c``), dedupe
member (``tid:score``), count and claim rules (``celery/backends/redis.py``:
``CHORD_PART_RETURN_LUA``, ``CHORD_CLAIM_EXTEND_LUA``, ``CHORD_CLEANUP_LUA``),
so Celery workers and resultstore workers can complete parts of one chord and
its body is dispatched exactly once.  Two additive differences, invisible to a
Celery worker:

* a claim whose ``SET NX`` fails but whose stored token is the caller's own is
  reported as claimed (a retried call after a lost reply keeps its claim);
* the claiming call also returns the recorded parts (one round trip less).

Scripts run with ``EVALSHA`` and fall back to ``EVAL`` (which also caches the
script) on ``NOSCRIPT``, e.g. after a server restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import NoScriptError

__all__ = ["Script", "GUARDED_SET", "STORE", "CHORD_PART_RETURN", "CHORD_CLAIM_EXTEND",
           "CHORD_CLEANUP", "CHORD_FORCE_CLEANUP"]


class Script:
    """A Lua script run by SHA1, loaded on demand."""

    def __init__(self, text: str) -> None:
        self.text = text.strip() + "\n"
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()

    def __call__(self, client: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run on a redis-py client (``Redis`` or ``RedisCluster``)."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self.text, len(keys), *keys, *args)

    def run(self, execute: Callable[..., Any], keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run through ``execute(*command)`` (e.g. :meth:`DirectConnections.execute`)."""
        try:
            return execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return execute("EVAL", self.text, len(keys), *keys, *args)

    async def acall(self, client: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The asyncio twin (``client`` is a ``redis.asyncio`` client)."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.text, len(keys), *keys, *args)


#: KEYS[1]=task key; ARGV: value, ttl_ms (0: none), prefix.  Keeps a value starting with
#: ``prefix`` (a stored SUCCESS); otherwise SET (PX) + PUBLISH on the key channel.
GUARDED_SET = Script("""
local key, value, ttl, prefix = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
if #prefix > 0 then
    local head = redis.call('GETRANGE', key, 0, #prefix - 1)
    if head == prefix then
        return 0
    end
end
if ttl > 0 then
    redis.call('SET', key, value, 'PX', ttl)
else
    redis.call('SET', key, value)
end
redis.call('PUBLISH', key, value)
return 1
""")

#: KEYS[1]=key; ARGV: value, ttl_ms.  SET (PX) + PUBLISH (used on Redis Cluster).
STORE = Script("""
local ttl = tonumber(ARGV[2])
if ttl > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
    redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
""")

#: Celery 5.7 CHORD_PART_RETURN_LUA + own-token reclaim + parts on claim.
#: KEYS: G.j G.t G.s G.d G G.c; ARGV: tid value ordered score expires group_expires
#: claim_expires claim_token.  Returns {readycount, totaldiff, size, claimed, parts}.
CHORD_PART_RETURN = Script("""
local jkey, tkey, skey, dkey, gkey, ckey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local tid, value, ordered, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local expires, group_expires = tonumber(ARGV[5]), tonumber(ARGV[6])
local claim_expires = tonumber(ARGV[7])
local claim_token = ARGV[8]

local done_marker = redis.call('GET', ckey)
if done_marker == 'done' then
    return {-1, 0, 0, 0}
end

local member = tid .. ':' .. score
if redis.call('SISMEMBER', dkey, member) == 0 then
    if ordered == '1' then
        redis.call('ZADD', jkey, score, value)
    else
        redis.call('RPUSH', jkey, value)
    end
    redis.call('SADD', dkey, member)
end
local readycount
if ordered == '1' then
    readycount = redis.call('ZCOUNT', jkey, '-inf', '+inf')
else
    readycount = redis.call('LLEN', jkey)
end
if expires > 0 then
    for _, key in ipairs({jkey, tkey, skey, dkey}) do
        redis.call('EXPIRE', key, expires)
    end
    if group_expires > 0 then
        redis.call('EXPIRE', gkey, group_expires)
    end
end

local totaldiff = redis.call('GET', tkey)
local size = redis.call('GET', skey)
local claimed = 0
if size and readycount == tonumber(size) + tonumber(totaldiff or 0) then
    if redis.call('SET', ckey, claim_token, 'NX', 'EX', claim_expires) then
        claimed = 1
    elseif redis.call('GET', ckey) == claim_token then
        claimed = 1
    end
end
if claimed == 1 then
    local parts
    if ordered == '1' then
        parts = redis.call('ZRANGE', jkey, 0, -1)
    else
        parts = redis.call('LRANGE', jkey, 0, -1)
    end
    return {readycount, totaldiff, size, claimed, parts}
end
return {readycount, totaldiff, size, claimed}
""")

#: Celery 5.7 CHORD_CLAIM_EXTEND_LUA.  KEYS: G.c G.s; ARGV: token expires.
CHORD_CLAIM_EXTEND = Script("""
local ckey, skey = KEYS[1], KEYS[2]
local token = ARGV[1]
local expires = tonumber(ARGV[2])
if redis.call('GET', ckey) == token then
    return redis.call('EXPIRE', ckey, expires)
end
if not redis.call('GET', ckey) and redis.call('EXISTS', skey) == 1 then
    return redis.call('SET', ckey, token, 'EX', expires, 'NX') and 1 or 0
end
return 0
""")

#: Celery 5.7 CHORD_CLEANUP_LUA.  KEYS: G.c G.j G.t G.s G.d; ARGV: token done_expires.
CHORD_CLEANUP = Script("""
local ckey = KEYS[1]
local jkey = KEYS[2]
local tkey = KEYS[3]
local skey = KEYS[4]
local dkey = KEYS[5]
local token = ARGV[1]
local done_expires = tonumber(ARGV[2])

if redis.call('GET', ckey) == token then
    redis.call('DEL', jkey, tkey, skey, dkey)
    if done_expires and done_expires > 0 then
        redis.call('SET', ckey, 'done', 'EX', done_expires)
    end
    return 1
end
return 0
""")

#: Cleanup without a token (the caller did not claim): the same end state.
#: KEYS: G.c G.j G.t G.s G.d; ARGV: done_expires.
CHORD_FORCE_CLEANUP = Script("""
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local done_expires = tonumber(ARGV[1])
if done_expires > 0 then
    redis.call('SET', KEYS[1], 'done', 'EX', done_expires)
end
return 1
""")
