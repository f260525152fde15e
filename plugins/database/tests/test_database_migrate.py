"""``resultstore migrate`` into and out of PostgreSQL: record stores list their ids
(``scan_ids``), metas survive the trip to rows and back, and a run from Redis killed midway,
run again, ends identical."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import resultstore
from resultstore import states
from resultstore.migrate import Migration
from resultstore.testing.servers import ServerProcess

Open = Callable[..., resultstore.ResultBackend]


def fill(backend: resultstore.ResultBackend, n: int) -> None:
    for i in range(n):
        backend.mark_as_done(f"t{i}", {"i": i})
    try:
        raise ValueError("boom")
    except ValueError as exc:
        backend.mark_as_failure("failed", exc, traceback="Traceback ...")
    backend.mark_as_started("running")
    backend.save_group("g1", ("g1", [(("t1", None), None)]))


def test_memory_to_postgres_and_back(fresh_pg_url: str, open_backend: Open) -> None:
    src = open_backend(f"memory://{uuid.uuid4().hex}")
    pg = open_backend(f"db+{fresh_pg_url}")
    back = open_backend(f"memory://{uuid.uuid4().hex}")
    fill(src, 120)
    there = Migration(src, pg, batch=50)
    tally = there.copy(there.listing())
    assert tally.copied == 123
    assert there.verify(there.listing()).identical
    assert sorted(pg.task_ids()) == sorted(src.task_ids())
    assert list(pg.group_ids()) == ["g1"]
    home = Migration(pg, back, batch=50)  # PostgreSQL as the source: scan_ids
    assert home.copy(home.listing()).copied == 123
    verdict = home.verify(home.listing())
    assert verdict.identical and verdict.matching == 123
    failed = back.get_task_meta("failed")
    assert failed["status"] == states.FAILURE and isinstance(failed["result"], ValueError)
    assert back.get_group_meta("g1") == src.get_group_meta("g1")


def test_success_row_is_kept(fresh_pg_url: str, open_backend: Open) -> None:
    src = open_backend(f"memory://{uuid.uuid4().hex}")
    pg = open_backend(f"db+{fresh_pg_url}")
    src.mark_as_done("t", "source")
    pg.mark_as_done("t", "row")
    migration = Migration(src, pg)
    assert migration.copy(migration.listing()).kept == 1
    assert pg.get_task_meta("t", cache=False)["result"] == "row"


@pytest.fixture
def redis_url() -> Iterator[str]:
    pytest.importorskip("resultstore_redis", reason="redis -> PostgreSQL needs resultstore-redis "
                        "(installed in the full `nox -s tests` run)")
    workdir = Path(tempfile.mkdtemp(prefix="rs-migrate-redis-"))
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]
    with ServerProcess(argv, workdir) as server:
        yield f"redis://127.0.0.1:{server.port}/0"


def test_redis_to_postgres_killed_midway_then_resumed(redis_url: str, fresh_pg_url: str,
                                                      open_backend: Open) -> None:
    total = 2000
    src = open_backend(redis_url)
    fill(src, total - 2)
    pg_url = f"db+{fresh_pg_url}"
    open_backend(pg_url).get_task_meta("warm-up")  # the tables exist before counting rows
    engine = sa.create_engine(fresh_pg_url)
    count = sa.text("SELECT count(*) FROM celery_taskmeta")

    def rows() -> int:
        with engine.connect() as conn:
            return int(conn.execute(count).scalar_one())

    command = [sys.executable, "-m", "resultstore.cli", "migrate", redis_url, pg_url,
               "--batch", "1", "--workers", "1", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while rows() < total // 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.wait(10)
    copied = rows()
    assert total // 10 <= copied < total, "the run was not interrupted midway"
    done = subprocess.run([*command[:-5], "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["listed"] == total + 1  # and the group
    assert report["copy"]["same"] >= copied
    assert report["copy"]["same"] + report["copy"]["copied"] == total + 1
    assert report["verify"]["identical"]
    assert report["verify"]["source_digest"] == report["verify"]["destination_digest"]
    assert rows() == total
    engine.dispose()
