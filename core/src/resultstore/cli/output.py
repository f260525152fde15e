"""Rich or JSON output for the CLI, with every secret of the URLs masked."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
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
    """Where a command prints: rich tables for people, one JSON document for scripts.

    Messages (plain strings, errors) are one line each, never wrapped, so that piped
    output can be grepped; tables fit the terminal, or 80 columns when piped.  With
    ``--json`` an error is one JSON object on stdout: ``{"error": ..., "exit": N}``.
    Everything written passes through the secrets mask.
    """

    def __init__(self, json_mode: bool = False, secrets: Iterable[str] = ()) -> None:
        self.json = json_mode
        self._secrets = [s for s in secrets if s]
        self.redact = Masker(self._secrets)
        #: The masked URL errors are prefixed with, once known.
        self.prefix = ""
        self.console = Console(highlight=False)
        self.stderr = Console(stderr=True, highlight=False)

    def hide(self, secrets: Iterable[str]) -> None:
        """Mask these secrets too from now on."""
        self._secrets += [s for s in secrets if s]
        self.redact = Masker(self._secrets)

    def print(self, *renderables: RenderableType) -> None:
        """Render for people; the rendered text is redacted before it is written."""
        with self.console.capture() as captured:
            for part in renderables:
                if isinstance(part, str):
                    self.console.print(Text(part), soft_wrap=True)  # a message: one line
                else:
                    self.console.print(part)
        sys.stdout.write(self.redact(captured.get()))
        sys.stdout.flush()

    def data(self, document: Any) -> None:
        """Write one JSON document (``--json``)."""
        text = json.dumps(jsonable(document), indent=2, ensure_ascii=False)
        sys.stdout.write(self.redact(text) + "\n")
        sys.stdout.flush()

    def error(self, message: str, exit_code: int = 1) -> None:
        """Report a failure: one JSON object on stdout with ``--json``, else one line on stderr."""
        message = self.redact(message)
        if self.json:
            self.data({"error": message, "exit": exit_code})
        elif self.stderr.is_terminal:
            self.stderr.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)
        else:
            sys.stderr.write(f"error: {' '.join(message.splitlines())}\n")
            sys.stderr.flush()

    def state(self, status: str) -> Text:
        return Text(status, style=STATE_STYLE.get(status, ""))
