"""Redis Cluster specifics: cross-slot reads, chords with and without hash tags."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from redis_servers import Deployment

import resultstore
from resultstore import Capability, states
from resultstore_redis import UntaggedClusterStore


@pytest.fixture
def plain_cluster(redis_cluster: Deployment) -> Iterator[resultstore.ResultBackend]:
    """The cluster without the hash-tag option (Celery's key names)."""
    backend = resultstore.connect(redis_cluster.url)
    yield backend
    backend.close()


@pytest.fixture
def tagged_cluster(redis_cluster: Deployment) -> Iterator[resultstore.ResultBackend]:
    backend = redis_cluster.connect()
    yield backend
    backend.close()


def test_get_many_spans_every_node(redis_cluster: Deployment,
                                   plain_cluster: resultstore.ResultBackend) -> None:
    ids = [f"x-{uuid.uuid4()}" for _ in range(300)]
    for i, task_id in enumerate(ids):
        plain_cluster.mark_as_done(task_id, i)
    node_keys = [redis.Redis(port=s.port).dbsize() for s in redis_cluster.servers]
    assert all(n > 0 for n in node_keys)  # the results really live on all three masters
    metas = plain_cluster.get_many(ids)
    assert [metas[t]["result"] for t in ids] == list(range(300))


def test_chords_without_hash_tags_count_with_incr(plain_cluster: resultstore.ResultBackend) -> None:
    assert type(plain_cluster.store) is UntaggedClusterStore
    assert Capability.CHORD not in plain_cluster.capabilities
    assert plain_cluster.supports_native_chords  # core's INCR accounting
    gid = f"g-{uuid.uuid4()}"
    plain_cluster.set_chord_size(gid, 3)
    outcomes = [plain_cluster.chord_part_return(gid, f"t{i}", i, states.SUCCESS, i) for i in (1, 2, 0)]
    assert outcomes[:2] == [None, None] and outcomes[2] is not None
    assert [p.result for p in outcomes[2]] == [0, 1, 2]
    plain_cluster.chord_done(gid)


def test_hash_tagged_chord_keys_share_a_slot(redis_cluster: Deployment,
                                             tagged_cluster: resultstore.ResultBackend) -> None:
    assert Capability.CHORD in tagged_cluster.capabilities
    gid = f"g-{uuid.uuid4()}"
    tagged_cluster.set_chord_size(gid, 2)
    tagged_cluster.chord_part_return(gid, "a", 0, states.SUCCESS, "a")
    client = redis.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster.servers[0].port)
    base = "{" + tagged_cluster.keys.group(gid) + "}"
    assert client.get(base + ".s") == b"2"
    assert client.zcard(base + ".j") == 1
    assert len({client.keyslot(base + suffix) for suffix in (".j", ".t", ".s", ".d", ".c")}) == 1
    parts = tagged_cluster.chord_part_return(gid, "b", 1, states.SUCCESS, "b")
    assert parts is not None and [p.result for p in parts] == ["a", "b"]
    tagged_cluster.chord_done(gid)
    assert client.get(base + ".c") == b"done" and not client.exists(base + ".j")
    client.close()
