"""The README's main job: the demo runs end to end and shows the chord body's result."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "docs" / "examples" / "demo.py"


def test_demo_runs_end_to_end() -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "120"})
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "type(app.backend) = resultstore_file.host.FileBackend" in output
    header = "[1, 4, 9, 16, 25, 36, 49, 64, 81, 100]"
    assert f"chord body result: sum of the header's results {header} = 385" in output
    assert "DemoError: this task fails on purpose" in output
    assert "26 result(s) in file://" in output  # `resultstore ls` lists every result
    assert '"sum": 385' in output  # `resultstore get` shows the chord body
    assert "worker stopped cleanly (exit code 0)" in output
    assert elapsed < 120
