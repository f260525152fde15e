"""The README claims only what the installed code does: its tables are checked against it."""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

import pytest

from resultstore.blob import BlobStore
from resultstore.cli.inventory import celery_builtins
from resultstore.registry import default_registry
from resultstore.spec import Capability

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _table(heading: str) -> list[list[str]]:
    section = README.split(heading, 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    end = next((i for i, line in enumerate(section.splitlines()) if line.startswith("## ")), None)
    if end is not None:
        rows = [r for r in rows if r in section.splitlines()[:end]]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _schemes(cell: str) -> list[str]:
    return [m.split("://")[0].split("+")[0] for m in re.findall(r"`([a-z]+[^`]*)`", cell)]


FEATURES = _table("## Backends and what they do natively")


def _declared(alias: str) -> tuple[set[Capability], set[Capability]]:
    """(always declared, declared only when the service honours conditional writes)."""
    store = default_registry.entry_for(alias).load_store()
    if issubclass(store, BlobStore):
        always, conditional = store.declared_capabilities()
        return set(always), set(conditional)
    return set(store.capabilities), set()


def _claims(alias: str, always: set[Capability], conditional: set[Capability], cell: str,
            capability: Capability) -> None:
    if cell == "—":
        assert capability not in always | conditional, (alias, capability)
    elif "if " in cell:
        assert capability in conditional, (alias, capability)
    else:
        assert capability in always, (alias, capability)


@pytest.mark.parametrize("row", FEATURES, ids=[row[0] for row in FEATURES])
def test_feature_table_matches_declared_capabilities(row: list[str]) -> None:
    backend, chords, push, batched, listing, expiry, aio, guarded = row
    for alias in _schemes(backend):
        always, conditional = _declared(alias)
        claims = partial(_claims, alias, always, conditional)
        if chords.startswith("counter"):
            assert Capability.INCR in always and Capability.CHORD not in always | conditional
        else:
            claims(chords, Capability.CHORD)
        claims(push, Capability.SUBSCRIBE)
        claims(batched, Capability.BATCH)
        claims(listing, Capability.SCAN)
        claims("yes" if "cleanup" in expiry else "—", Capability.CLEANUP)
        claims("yes" if aio.startswith("native") else "—", Capability.AIO)
        claims(guarded, Capability.GUARDED_SET)


INSTALL = _table("## Install")


@pytest.mark.parametrize("row", INSTALL, ids=[row[1] for row in INSTALL])
def test_install_matrix_matches_entry_points(row: list[str]) -> None:
    _, distribution, paths, schemes, replaces = row
    dist = distribution.strip("`")
    for path in paths.split():
        assert (Path(__file__).resolve().parents[1] / path.strip("`.").lstrip("/")).is_dir(), path
    builtins = celery_builtins()
    for alias in _schemes(schemes):
        entry = default_registry.entry_for(alias)
        expected = "resultstore" if entry.origin == "builtin" else entry.distribution
        assert expected == dist, (alias, entry)
        if replaces != "—" and alias in builtins:
            assert builtins[alias].replace(":", ".").rsplit(".", 1)[-1] in replaces, alias


# -- issue 14, items 16-18: the README's Celery and FastAPI blocks run as a user runs them --------

def _blocks(heading: str) -> dict[str, str]:
    """The ```python blocks of a section, by the file name of their first line (``# proj.py``)."""
    section = README.split(heading, 1)[1].split("\n## ", 1)[0]
    found = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        first = block.splitlines()[0]
        if first.startswith("# ") and first.endswith(".py"):
            found[first[2:]] = block
    return found


def test_readme_says_celery_redis_where_a_redis_broker_is_used() -> None:
    section = README.split("## With Celery", 1)[1].split("\n## ", 1)[0]
    assert 'broker="redis://' in section and "pip install 'celery[redis]'" in section


def test_readme_celery_blocks_run_as_a_user_runs_them(tmp_path: Path) -> None:
    """``proj.py`` started with ``celery -A proj worker``, ``client.py`` with ``python client.py``."""
    import subprocess
    import sys

    from resultstore.testing.servers import ServerProcess
    from resultstore.testing.workers import CeleryWorker

    blocks = {**_blocks("## With Celery"), **_blocks("## Reading results without Celery")}
    assert set(blocks) == {"proj.py", "client.py", "api.py"}
    redis_argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", "{workdir}"]
    with ServerProcess(redis_argv, tmp_path / "redis") as server:
        for name, text in blocks.items():  # the only change: where the user's Redis listens
            (tmp_path / name).write_text(text.replace("localhost:6379", f"127.0.0.1:{server.port}"))
        env = {**os.environ, "PYTHONPATH": str(tmp_path)}
        with CeleryWorker("proj", {}, tmp_path, config_env="RESULTSTORE_README_UNUSED",
                          app_dir=tmp_path):
            client = subprocess.run([sys.executable, "client.py"], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=120)
            assert client.returncode == 0, client.stderr
            assert client.stdout.splitlines() == [
                "<class 'resultstore_redis.host.RedisBackend'>", "90"], client.stdout
            probe = ("from fastapi.testclient import TestClient\nimport api, proj\n"
                     "task_id = proj.add.delay(2, 3).id\n"
                     "print(TestClient(api.app).get(f'/tasks/{task_id}').json())\n")
            api = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=120)
            assert api.returncode == 0, api.stderr
            assert api.stdout.strip() == "{'state': 'SUCCESS', 'result': '5'}", api.stdout


def test_readme_api_block_reads_with_the_apps_settings(tmp_path: Path) -> None:
    """With ``global_keyprefix`` in the app, the README's ``connect(url, app.conf)`` still finds
    the results (``connect(url)`` alone would see PENDING)."""
    import resultstore

    api = _blocks("## Reading results without Celery")["api.py"]
    assert "resultstore.connect(celery_app.conf.result_backend, celery_app.conf)" in api
    celery = pytest.importorskip("celery")
    app = celery.Celery("readme-prefix", backend=f"file://{tmp_path}", set_as_current=False)
    app.conf.result_backend_transport_options = {"global_keyprefix": "tenant-a"}
    app.backend.store_result("t-1", 5, "SUCCESS")
    backend = resultstore.connect(app.conf.result_backend, app.conf)
    assert backend.get_task_meta("t-1")["result"] == 5
    assert resultstore.connect(app.conf.result_backend).get_task_meta("t-1")["status"] == "PENDING"
