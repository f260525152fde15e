"""The ```python examples of docs/plugins-database.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).parents[3] / "docs" / "plugins-database.md"


def test_page_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert blocks, f"{PAGE.name} has no runnable example"
    exec(compile("\n".join(blocks), str(PAGE), "exec"), {"__name__": "docs_plugins_database"})
