"""Rich or JSON output for the CLI, with every secret of the URLs masked."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.text import Text

from ..masking import Masker

__all__ = ["Output", "jsonable", "short", "STATE_STYLE"]

STATE_STYLE = {
    "SUCCESS": "bold green", "FAILURE": "bold red", "REVOKED": "bold magenta",
    "STARTED": "cyan", "RETRY": "yellow", "PENDING": "dim", "RECEIVED": "blue",
}


def jsonable(value: Any) -> Any:
    """A JSON-safe view of a decoded meta value (exceptions become Celery's dict)."""
    if isinstance(value, BaseException):
        return {"exc_type": type(value).__name__, "exc_module": type(value).__module__,
                "exc_message": [jsonable(a) for a in value.args]}
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def short(value: Any, width: int = 60) -> str:
    """One-line preview of a result."""
    if isinstance(value, BaseException):
        text = f"{type(value).__name__}({', '.join(repr(a) for a in value.args)})"
    else:
        text = json.dumps(jsonable(value), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


class Output:
    """Where a command prints: rich tables for people, one JSON document for scripts."""

    def __init__(self, json_mode: bool = False, secrets: Iterable[str] = ()) -> None:
        self.json = json_mode
        self.redact = Masker(secrets)
        self.console = Console(highlight=False)
        self.stderr = Console(stderr=True, highlight=False)

    def print(self, *renderables: RenderableType) -> None:
        """Render for people; the rendered text is redacted before it is written."""
        parts = [Text(r) if isinstance(r, str) else r for r in renderables]
        with self.console.capture() as captured:
            self.console.print(Group(*parts))
        sys.stdout.write(self.redact(captured.get()))
        sys.stdout.flush()

    def data(self, document: Any) -> None:
        """Write one JSON document (``--json``)."""
        text = json.dumps(jsonable(document), indent=2, ensure_ascii=False)
        sys.stdout.write(self.redact(text) + "\n")
        sys.stdout.flush()

    def error(self, message: str) -> None:
        self.stderr.print(Text(self.redact(f"error: {message}"), style="bold red"))

    def state(self, status: str) -> Text:
        return Text(status, style=STATE_STYLE.get(status, ""))
