"""Every ```python block of docs/client.md runs as written, in order."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_client_page_examples_run(capsys: object) -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 10
    namespace: dict[str, object] = {"__name__": "docs_client"}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)
