"""Rich or JSON output for the CLI, with every secret of the URLs masked."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from rich.console import Console, Group, RenderableType
from rich.text import Text

__all__ = ["Output", "mask_url", "secrets_of", "jsonable", "short", "STATE_STYLE"]

#: Query parameters whose values are credentials.
_SECRET_PARAMS = re.compile(r"(pass|secret|token|key|sig|credential|auth)", re.I)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://)(?P<user>[^:@/;?#]*):(?P<pw>[^@/;?#]*)@")

STATE_STYLE = {
    "SUCCESS": "bold green", "FAILURE": "bold red", "REVOKED": "bold magenta",
    "STARTED": "cyan", "RETRY": "yellow", "PENDING": "dim", "RECEIVED": "blue",
}


def secrets_of(url: str) -> set[str]:
    """Passwords and credential-looking query values inside ``url`` (each ``;`` part)."""
    found: set[str] = set()
    for part in url.split(";"):
        for match in _USERINFO.finditer(part):
            if match["pw"]:
                found |= {match["pw"], unquote(match["pw"])}
        try:
            query = urlsplit(part).query
        except ValueError:
            continue
        for key, value in parse_qsl(query):
            if value and _SECRET_PARAMS.search(key):
                found |= {value, unquote(value)}
    return {s for s in found if len(s) >= 1}


def mask_url(url: str) -> str:
    """``url`` with its password and credential query values replaced by ``**``."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:**@" if m["pw"] else m[0], url)
    for secret in sorted(secrets_of(url), key=len, reverse=True):
        masked = masked.replace(secret, "**")
    return masked


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
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.console = Console(highlight=False)
        self.stderr = Console(stderr=True, highlight=False)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "**")
        return text

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
