"""Every ```python block of the core docs runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
PAGES = ["index.md", "concepts.md", "configuration.md", "plugin-authors.md", "encryption.md",
         "offload.md"]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str) -> None:
    blocks = BLOCK.findall((DOCS / page).read_text())
    assert blocks, f"{page} has no runnable example"
    namespace: dict[str, object] = {"__name__": f"docs_{page[:-3].replace('-', '_')}"}
    code = "\n".join(b for b in blocks if "class TestDictDemo" not in b)
    exec(compile(code, str(DOCS / page), "exec"), namespace)
