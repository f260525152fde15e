"""``resultstore migrate`` with Redis on both sides (db 0 -> another db): remaining lives kept,
and a migrate process killed midway, run again, ends identical."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis
from redis_servers import Deployment

import resultstore
from resultstore.migrate import Migration

DB_COUNTER = iter(range(2, 16))


@pytest.fixture
def dbs(redis_plain: Deployment) -> Iterator[tuple[str, str, redis.Redis]]:
    """Two empty databases of the plain server: source and destination URLs, and a client of
    the destination."""
    base = redis_plain.url.rsplit("/", 1)[0]
    src, dst = next(DB_COUNTER), next(DB_COUNTER)
    client = redis.Redis.from_url(f"{base}/{dst}")
    for db in (src, dst):
        redis.Redis.from_url(f"{base}/{db}").flushdb()
    yield f"{base}/{src}", f"{base}/{dst}", client
    for db in (src, dst):
        redis.Redis.from_url(f"{base}/{db}").flushdb()


def fill(url: str, n: int) -> None:
    backend = resultstore.connect(url)
    payload = {k: backend.encode({"status": "SUCCESS", "result": i, "traceback": None,
                                  "children": [], "date_done": "2026-01-01T00:00:00+00:00",
                                  "task_id": f"t{i}"})
               for i, k in enumerate(backend.keys.task(f"t{i}") for i in range(n))}
    backend.store.set_many(payload, 3600)
    backend.save_group("g", ("g", [(("t0", None), None)]))
    backend.close()


def test_remaining_lives_are_kept(dbs: tuple[str, str, redis.Redis]) -> None:
    src_url, dst_url, client = dbs
    src, dst = resultstore.connect(src_url), resultstore.connect(dst_url)
    src.store.set(src.keys.task("short"), src.encode({"status": "SUCCESS", "result": 1}), 90)
    src.store.set(src.keys.task("forever"), src.encode({"status": "SUCCESS", "result": 2}), None)
    migration = Migration(src, dst)
    tally = migration.copy(migration.listing())
    assert tally.copied == 2 and migration.verify(migration.listing()).identical
    assert 80_000 < client.pttl(dst.keys.task("short")) <= 90_000
    assert client.pttl(dst.keys.task("forever")) == -1
    src.close()
    dst.close()


def test_killed_midway_then_resumed_ends_identical(dbs: tuple[str, str, redis.Redis]) -> None:
    src_url, dst_url, client = dbs
    total = 3000
    fill(src_url, total)
    command = [sys.executable, "-m", "resultstore.cli", "migrate", src_url, dst_url, "--batch", "1",
               "--workers", "1", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while client.dbsize() < total // 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.wait(10)
    copied = client.dbsize()
    assert total // 10 <= copied < total + 1, "the run was not interrupted midway"
    done = subprocess.run([*command[:-5], "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["listed"] == total + 1
    assert report["copy"]["same"] >= copied - 1  # one write may have been cut mid-batch
    assert report["copy"]["same"] + report["copy"]["copied"] == total + 1
    assert report["verify"]["identical"] and report["verify"]["matching"] == total + 1
    assert report["verify"]["source_digest"] == report["verify"]["destination_digest"]
    assert client.dbsize() == total + 1


def test_password_never_printed(dbs: tuple[str, str, redis.Redis]) -> None:
    src_url, dst_url, _ = dbs
    secret_url = dst_url.replace("redis://", "redis://:hunter2-secret@")
    done = subprocess.run([sys.executable, "-m", "resultstore.cli", "migrate", src_url,
                           secret_url, "--json"], capture_output=True, text=True, timeout=60)
    fill(src_url, 3)
    again = subprocess.run([sys.executable, "-m", "resultstore.cli", "migrate", src_url,
                            secret_url], capture_output=True, text=True, timeout=60)
    for run in (done, again):
        assert "hunter2" not in run.stdout + run.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert ":**@" in again.stdout  # the destination, masked, in the summary's title
    assert ":**@" in json.loads(done.stdout)["destination"]


def test_ctrl_c_exits_130_and_the_rerun_resumes(dbs: tuple[str, str, redis.Redis]) -> None:
    src_url, dst_url, client = dbs
    total = 3000
    fill(src_url, total)
    command = [sys.executable, "-m", "resultstore.cli", "migrate", src_url, dst_url, "--batch", "1",
               "--workers", "1", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while client.dbsize() < total // 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert json.loads(out)["interrupted"] is True and "Traceback" not in err
    copied = client.dbsize()
    assert copied < total + 1
    done = subprocess.run([*command[:-5], "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["verify"]["identical"]
    assert report["copy"]["same"] == copied and client.dbsize() == total + 1
