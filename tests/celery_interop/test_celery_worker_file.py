"""A solo worker on ``file://`` results with kombu's filesystem broker: no network at all.

The broker is ``cifs://`` (``ci_fs_transport``): kombu's filesystem transport
with one fix, atomic publishes, without which a busy worker loses messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_harness import Worker, base_config
from ci_scenarios import CanvasScenarios

from resultstore.testing.servers import ServerProcess
from resultstore_file.host import FileBackend


@pytest.fixture(scope="module")
def config(redis_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("file-app")
    queue, processed, results = root / "queue", root / "processed", root / "results"
    for folder in (queue, processed, results):
        folder.mkdir()
    conf = base_config(redis_server, db=7, queue="ci-file")
    conf["broker_url"] = "cifs://"  # kombu filesystem, atomic publishes
    conf["broker_transport_options"] = {
        "data_folder_in": str(queue), "data_folder_out": str(queue),
        "processed_folder": str(processed), "control_folder": str(root / "control"),
        "polling_interval": 0.05}
    conf["result_backend"] = f"file://{results}"
    return conf


@pytest.fixture(scope="module")
def worker(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with Worker(config, tmp_path_factory.mktemp("worker-file"), pool="solo") as running:
        yield running


@pytest.fixture(scope="module")
def backend_class() -> type:
    return FileBackend


class TestFilePluginWithSoloWorker(CanvasScenarios):
    """Every scenario on the file plugin."""

    def test_results_are_files(self, app: Any, config: dict[str, Any]) -> None:
        result = app.tasks["ci.add"].delay(20, 22)
        assert result.get(timeout=30, interval=0.05) == 42
        folder = Path(config["result_backend"][len("file://"):])
        assert any(result.id in p.name for p in folder.rglob("*"))
