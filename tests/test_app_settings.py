"""A Celery app's settings reach readers: ``connect(url, app.conf)`` and ``resultstore -A proj``.

Issue 14, item 18: with ``global_keyprefix`` (or any other setting) in the app, a reader
opened from the URL alone silently sees nothing.
"""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore import states
from resultstore.cli import main

pytest.importorskip("celery")

PROJ = """
from celery import Celery

app = Celery("proj_{tag}", backend="file://{results}")
app.conf.result_backend_transport_options = {{"global_keyprefix": "tenant-a"}}
app.conf.result_extended = True
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"proj_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(PROJ.format(tag=name, results=tmp_path / "r")))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_connect_takes_the_apps_settings(proj: str) -> None:
    app = __import__(proj).app
    app.backend.store_result("t-1", 42, states.SUCCESS)
    url = app.conf.result_backend
    assert resultstore.connect(url).get_task_meta("t-1")["status"] == states.PENDING  # the trap
    meta = resultstore.connect(url, app.conf).get_task_meta("t-1")
    assert meta["status"] == states.SUCCESS and meta["result"] == 42


def test_cli_app_option_reads_url_and_settings(proj: str, capsys: pytest.CaptureFixture[str]) -> None:
    __import__(proj).app.backend.store_result("t-2", [1, 2], states.SUCCESS)
    assert main(["-A", proj, "get", "t-2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["t-2"]["result"] == [1, 2]
    assert main(["ls", "--app", proj, "--json"]) == 0
    assert [r["task_id"] for r in json.loads(capsys.readouterr().out)["results"]] == ["t-2"]
    url = __import__(proj).app.conf.result_backend
    assert main(["-A", proj, "get", url, "t-2", "--json"]) == 0  # an explicit URL still works
    assert json.loads(capsys.readouterr().out)["t-2"]["status"] == states.SUCCESS
    assert main(["get", url, "t-2", "-s", 'result_backend_transport_options={"global_keyprefix": '
                 '"tenant-a"}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["t-2"]["status"] == states.SUCCESS


def test_cli_app_errors_are_usage_errors(proj: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-A", "no_such_proj_xyz", "ls", "--json"]) == 2
    assert "cannot load the Celery app 'no_such_proj_xyz'" in json.loads(capsys.readouterr().out)["error"]
