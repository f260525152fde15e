"""The ``resultstore`` command on memory:// and file:// (through ``main(argv)`` and the script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import resultstore
from resultstore import states
from resultstore.cli import main
from resultstore.cli.inventory import inventory
from resultstore.masking import mask_url, url_secrets
from resultstore.registry import BackendEntry, Registry


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


@pytest.fixture(params=["memory", "file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://cli-{uuid.uuid4()}"
    return f"file://{tmp_path / 'results'}"


@pytest.fixture
def filled(url: str) -> resultstore.ResultBackend:
    backend = resultstore.connect(url)
    backend.mark_as_done("ok-1", {"sum": 3})
    backend.mark_as_failure("bad-1", ValueError("nope"), traceback="Traceback (most recent call last)")
    backend.store_result("run-1", {"pid": 7}, states.STARTED)
    return backend


def test_backends_lists_builtins_and_the_file_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = run_json(capsys, "backends")
    by_alias = {row["alias"]: row for row in rows}
    assert by_alias["memory"]["origin"] == "builtin" and "subscribe" in by_alias["memory"]["capabilities"]
    file_row = by_alias["file"]
    assert file_row["target"] == "resultstore_file.host:FileBackend"
    assert file_row["distribution"] == "resultstore-file" and file_row["version"]
    assert file_row["replaces"] == "celery.backends.filesystem:FilesystemBackend"
    assert file_row["store"] == "resultstore_file.store:FileStore"
    assert code == (1 if any(r["error"] for r in rows) else 0)
    code, out, _ = run(capsys, "backends")
    assert "file://" in out and "FilesystemBackend" in out


MEMORY = "resultstore.stores.memory:MemoryStore"


def test_backends_shows_import_errors_and_conflicts() -> None:
    class Fake(Registry):
        def entry_points(self) -> dict[str, list[BackendEntry]]:
            return {
                "broken": [BackendEntry("broken", "no_such_module_xyz:Backend", "entry-point",
                                        "resultstore-broken", "9.9")],
                "dup": [BackendEntry("dup", MEMORY, "entry-point", "a", "1"),
                        BackendEntry("dup", MEMORY, "entry-point", "b", "1")],
                "foreign": [BackendEntry("foreign", "json:JSONDecoder", "entry-point", "other", "1")],
            }

    rows = {row.alias: row for row in inventory(Fake())}
    assert rows["broken"].error is not None and "ModuleNotFoundError" in rows["broken"].error
    assert rows["dup"].error is not None and rows["dup"].error.startswith("conflict")
    assert rows["foreign"].foreign and rows["foreign"].error is None
    assert rows["memory"].error is None


def test_check_is_healthy(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, report = run_json(capsys, "check", url, "--rounds", "2")
    assert code == 0 and report["healthy"] and report["rounds"] == 2
    assert set(report["latency_ms"]) == {"write", "read", "delete"}
    assert all(v > 0 for v in report["latency_ms"].values())
    assert "scan" in report["capabilities"]
    code, out, _ = run(capsys, "check", url, "--rounds", "1")
    assert code == 0 and "healthy" in out
    assert list(resultstore.connect(url).task_ids()) == []  # the probe was deleted


def test_check_reports_an_unhealthy_store(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from resultstore_file.store import FileStore

    def full(self: FileStore, key: str, value: bytes, ttl: float | None, prefix: bytes) -> bool:
        raise OSError(28, "No space left on device")  # ENOSPC, as a full disk raises it

    monkeypatch.setattr(FileStore, "set_unless_prefix", full)
    code, report = run_json(capsys, "check", f"file://{tmp_path}")
    assert code == 1 and not report["healthy"]
    assert "no space left" in report["error"].lower()


def test_get(capsys: pytest.CaptureFixture[str], url: str, filled: resultstore.ResultBackend) -> None:
    code, metas = run_json(capsys, "get", url, "ok-1", "bad-1", "nobody")
    assert code == 0
    assert metas["ok-1"]["result"] == {"sum": 3}
    assert metas["bad-1"]["result"] == {"exc_type": "ValueError", "exc_module": "builtins",
                                        "exc_message": ["nope"]}
    assert metas["nobody"]["status"] == states.PENDING
    code, out, _ = run(capsys, "get", url, "bad-1")
    assert "FAILURE" in out and "ValueError('nope')" in out and "Traceback" in out


def test_ls(capsys: pytest.CaptureFixture[str], url: str, filled: resultstore.ResultBackend) -> None:
    code, listing = run_json(capsys, "ls", url)
    assert code == 0 and listing["total"] == 3
    assert {(r["task_id"], r["status"]) for r in listing["results"]} == {
        ("ok-1", "SUCCESS"), ("bad-1", "FAILURE"), ("run-1", "STARTED")}
    code, out, _ = run(capsys, "ls", url, "--limit", "2")
    assert "3 result(s)" in out and "1 more" in out


def test_ls_needs_scan(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ls", "disabled://")
    assert code == 2 and "scan" in err


def test_forget(capsys: pytest.CaptureFixture[str], url: str, filled: resultstore.ResultBackend) -> None:
    code, out, _ = run(capsys, "forget", url, "ok-1", "bad-1")
    assert code == 0 and "forgot 2" in out
    assert sorted(filled.task_ids()) == ["run-1"]


def test_cleanup(capsys: pytest.CaptureFixture[str], url: str) -> None:
    backend = resultstore.connect(url, result_expires=0.2)
    backend.mark_as_done("short", 1)
    time.sleep(0.4)
    code, report = run_json(capsys, "cleanup", url)
    assert code == 0
    assert report["deleted"] == 1
    code, out, _ = run(capsys, "cleanup", url)
    assert code == 0 and "deleted 0 expired" in out


def test_watch_until_ready(capsys: pytest.CaptureFixture[str], url: str,
                           filled: resultstore.ResultBackend) -> None:
    timer = threading.Timer(0.3, filled.mark_as_done, ("run-1", "finished"))
    timer.start()
    try:
        code, report = run_json(capsys, "watch", url, "ok-1", "run-1", "--timeout", "10")
    finally:
        timer.join()
    assert code == 0 and not report["timed_out"]
    assert report["results"]["run-1"]["result"] == "finished"
    code, out, _ = run(capsys, "watch", url, "ok-1", "bad-1")
    assert code == 1 and "2/2 ready" in out and "FAILURE" in out


def test_watch_timeout(capsys: pytest.CaptureFixture[str], url: str,
                       filled: resultstore.ResultBackend) -> None:
    code, out, err = run(capsys, "watch", url, "run-1", "--timeout", "0.3", "--interval", "0.05")
    assert code == 3 and "STARTED" in out and "timed out" in err


def test_bench_measures(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, report = run_json(capsys, "bench", url, "-n", "50", "--batch", "10")
    assert code == 0
    assert [row["op"] for row in report["results"]] == ["store", "get", "join (10/batch)"]
    assert all(row["results"] == 50 and row["ops_per_s"] > 0 for row in report["results"])
    assert list(resultstore.connect(url).task_ids()) == []  # probes forgotten


def test_passwords_are_masked_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "hunter2-" + uuid.uuid4().hex[:6]
    leaky = f"memory://user:{secret}@ns"  # the memory store echoes its namespace in as_uri
    for argv in (["check", leaky], ["check", leaky, "--json"], ["ls", leaky], ["bench", leaky, "-n", "5"],
                 ["get", leaky, "x"], ["redis://:" + secret + "@127.0.0.1:1/0", ""]):
        argv = [a for a in argv if a]
        if argv[0].startswith("redis"):
            argv = ["check", argv[0]]
        _, out, err = run(capsys, *argv)
        assert secret not in out and secret not in err, argv
    assert mask_url(f"redis://user:{secret}@h:6379/0") == "redis://user:**@h:6379/0"
    assert mask_url(f"sentinel://:{secret}@a:1;sentinel://:{secret}@b:2") == "sentinel://:**@a:1;sentinel://:**@b:2"
    assert mask_url(f"s3://bucket?aws_secret_access_key={secret}") == "s3://bucket?aws_secret_access_key=**"
    assert url_secrets("file:///tmp/x") == set()


def test_bad_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "get", "nosuchscheme://x", "id")
    assert code == 2 and "No result backend for scheme 'nosuchscheme'" in err


def test_console_script(tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    resultstore.connect(url).mark_as_done("script-1", [1, 2])
    script = Path(sys.executable).with_name("resultstore")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "resultstore.cli"]
    done = subprocess.run([*command, "get", url, "script-1", "--json"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["script-1"]["result"] == [1, 2]


# -- issue 14, item 19: never a traceback, JSON errors, piped output, true ls/forget -----------

def _script() -> list[str]:
    script = Path(sys.executable).with_name("resultstore")
    return [str(script)] if script.exists() else [sys.executable, "-m", "resultstore.cli"]


def piped(*argv: str) -> subprocess.CompletedProcess[str]:
    """The console script with stdout/stderr piped (no terminal: rich's 80 columns)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([*_script(), *argv], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("argv", [
    ["bench", "memory://b", "-n", "0"], ["bench", "memory://b", "-n", "-3"],
    ["bench", "memory://b", "--batch", "0"], ["ls", "memory://b", "--limit", "0"],
    ["watch", "memory://b", "x", "--timeout", "-1"], ["get", "os:nonexistent", "x"],
    ["get", "no_such_module_xyz:Store", "x"], ["ls"], ["frobnicate"],
], ids=lambda argv: " ".join(argv))
def test_usage_errors_exit_2_without_traceback(capsys: pytest.CaptureFixture[str],
                                               argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.startswith("error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    code, document = run_json(capsys, *argv)
    assert code == 2 and set(document) == {"error", "exit"} and document["exit"] == 2


def test_store_errors_exit_1_as_one_json_object(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from resultstore.stores.memory import MemoryStore

    def refuse(self: MemoryStore, prefix: str) -> Any:
        raise PermissionError("WRONGPASS invalid username-password pair")  # a client library's error

    monkeypatch.setattr(MemoryStore, "scan", refuse)
    code, out, err = run(capsys, "ls", "memory://user:hunter22@refusing")
    assert code == 1 and out == "" and "Traceback" not in err and "hunter22" not in err
    assert err == ("error: memory://user:**@refusing: PermissionError: WRONGPASS invalid "
                   "username-password pair\n")
    code, document = run_json(capsys, "ls", "memory://user:hunter22@refusing")
    assert code == 1 and document["exit"] == 1 and "WRONGPASS" in document["error"]


def test_piped_errors_are_one_line_and_json_errors_go_to_stdout(tmp_path: Path) -> None:
    long_url = f"nosuchscheme://{'x' * 150}/results"
    done = piped("get", long_url, "some-id")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ")
    done = piped("get", long_url, "some-id", "--json")
    assert done.returncode == 2 and done.stderr == ""
    assert json.loads(done.stdout)["exit"] == 2


def _raw(backend: resultstore.ResultBackend, task_id: str, date_done: str, name: str = "") -> None:
    meta = {"status": "SUCCESS", "result": task_id, "traceback": None, "children": [],
            "date_done": date_done, "task_id": task_id, **({"name": name} if name else {})}
    backend.store.set(backend.keys.task(task_id), json.dumps(meta).encode(), None)  # type: ignore[union-attr]


def test_ls_limit_shows_the_oldest_in_one_time_zone(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'zones'}"
    backend = resultstore.connect(url)
    _raw(backend, "a-newest", "2026-01-01T09:00:00+00:00")
    _raw(backend, "b-oldest", "2026-01-01T10:00:00+02:00")  # 08:00 UTC: sorts as a time, not text
    _raw(backend, "c-middle", "2026-01-01T08:30:00")        # naive: UTC, as Celery writes it
    code, document = run_json(capsys, "ls", url, "--limit", "2")
    assert code == 0 and document["total"] == 3
    assert [r["task_id"] for r in document["results"]] == ["b-oldest", "c-middle"]
    assert [r["date_done"] for r in document["results"]] == ["2026-01-01T08:00:00+00:00",
                                                             "2026-01-01T08:30:00+00:00"]
    code, out, _ = run(capsys, "ls", url)
    lines = [line for line in out.splitlines() if line.startswith(("a-", "b-", "c-"))]
    assert [line.split()[0] for line in lines] == ["b-oldest", "c-middle", "a-newest"]
    assert "2026-01-01 08:00:00" in lines[0] and "done at (UTC)" in out


def test_forget_counts_results_deleted(capsys: pytest.CaptureFixture[str], url: str,
                                       filled: resultstore.ResultBackend) -> None:
    code, document = run_json(capsys, "forget", url, "ok-1", "bad-1", "never-stored", "ok-1")
    assert code == 0 and document == {"forgotten": ["ok-1", "bad-1"], "not_found": ["never-stored"]}
    code, out, _ = run(capsys, "forget", url, "ok-1", "run-1")
    assert "forgot 1 result(s)" in out and "(1 not found)" in out


def test_ls_is_readable_at_80_columns(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'wide'}"
    backend = resultstore.connect(url)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, task_id in enumerate(ids):
        _raw(backend, task_id, f"2026-01-0{i + 1}T00:00:00+00:00",
             name=f"proj.tasks.generate_monthly_revenue_report_{i}")
    done = piped("ls", url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    for task_id in ids:  # each row on one line: the whole id, the start of its name, its date
        row = next(line for line in lines if task_id in line)
        assert "generate_mo" in row and "2026-01-0" in row and "SUCCESS" in row
    assert not any("revenue" in line and not any(t in line for t in ids) for line in lines)
