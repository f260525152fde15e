"""``elasticsearch://user:password@host:9200/index/doc_type``, parsed as Celery parses it.

Celery's ``by_url`` strips ``elasticsearch+`` off ``elasticsearch+https://...``, so a store
may receive ``https://...`` (or ``http://...``); ``elasticsearch://`` means plain HTTP.
Settings are Celery's: ``elasticsearch_retry_on_timeout``, ``elasticsearch_max_retries``,
``elasticsearch_timeout`` and ``elasticsearch_save_meta_as_text``.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url, url_password

__all__ = ["ElasticsearchConfig"]

log = logging.getLogger(__name__)

#: Characters Elasticsearch refuses in index names (besides upper case).
_BAD_INDEX_CHARS = set('\\/*?"<>| ,#:')
#: URL schemes a store accepts, and the HTTP scheme each means.
SCHEMES = {"elasticsearch": "http", "elasticsearch+http": "http", "elasticsearch+https": "https",
           "http": "http", "https": "https"}


def _number(value: Any, name: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def _check_index(index: str) -> None:
    """Elasticsearch's index name rules, checked before any request."""
    if not index:
        return
    if (index != index.lower() or _BAD_INDEX_CHARS & set(index) or index[0] in "-_+"
            or index in (".", "..") or len(index.encode()) > 255):
        raise ImproperlyConfigured(
            f"elasticsearch URL: {index!r} is not a valid index name (lower case, no "
            f"spaces or any of \\/*?\"<>|,#:, not starting with -, _ or +, at most 255 bytes).")


@dataclass(frozen=True)
class ElasticsearchConfig:
    """Where and how to reach Elasticsearch (the fields of Celery's ``ElasticsearchBackend``)."""

    index: str = "celery"
    #: Parsed from the URL for compatibility; mapping types are gone since Elasticsearch 8.
    doc_type: str | None = None
    scheme: str = "http"
    host: str = "localhost"
    port: int = 9200
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    retry_on_timeout: bool = False
    max_retries: int = 3
    timeout: float = 10.0
    #: Celery's ``elasticsearch_save_meta_as_text``: the meta as one JSON string (default)
    #: or as an object whose ``result``/``traceback`` are JSON strings.
    save_meta_as_text: bool = True
    #: ``result_expires`` in seconds: what ``cleanup`` keeps documents without ``expires``.
    expires: float | None = 86400.0

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> ElasticsearchConfig:
        parts = urlsplit(url or "elasticsearch://")
        scheme = SCHEMES.get(parts.scheme)
        if scheme is None:
            raise ImproperlyConfigured(
                f"Not an Elasticsearch URL (scheme {parts.scheme!r}); use elasticsearch://host:9200/"
                f"index or elasticsearch+https://user:password@host:9200/index.")
        if (written := url_password(url)) is not None and written != parts.password:
            raise ImproperlyConfigured(
                f"Malformed elasticsearch URL {mask_url(url)!r}: the password holds a character that "
                f"ends a URL part (/ ? #); percent-encode it (urllib.parse.quote(password, safe='')).")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("elasticsearch URL: the port must be a number.") from None
        index, _, doc_type = unquote(parts.path).strip("/").partition("/")
        _check_index(index)
        if doc_type:
            log.warning("elasticsearch URL: doc type %r ignored (mapping types were removed in "
                        "Elasticsearch 8)", doc_type)
        timeout = settings.get("elasticsearch_timeout")
        max_retries = settings.get("elasticsearch_max_retries")
        return cls(
            index=index or "celery",
            doc_type=doc_type or None,
            scheme=scheme,
            host=parts.hostname or "localhost",
            port=port or 9200,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            retry_on_timeout=bool(settings.get("elasticsearch_retry_on_timeout") or False),
            max_retries=3 if max_retries is None else int(
                _number(max_retries, "elasticsearch_max_retries", int)),
            timeout=10.0 if timeout is None else _number(timeout, "elasticsearch_timeout", float),
            save_meta_as_text=bool(settings.get("elasticsearch_save_meta_as_text", True)),
            expires=settings.expires,
        )

    @property
    def node(self) -> str:
        """The node URL handed to the client (no credentials in it)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def basic_auth(self) -> str | None:
        """``user:password`` as UTF-8, base64-encoded (the client's pre-encoded form: its own
        encoding is ASCII, so a non-ASCII password failed with an error quoting it).  Celery
        sends credentials only when both user and password are given."""
        if self.username and self.password:
            return base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return None

    def as_uri(self, include_password: bool = False) -> str:
        """The URL with the password masked unless asked for."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="")
            if self.password:
                auth += ":" + (quote(self.password, safe="") if include_password else "**")
            auth += "@"
        scheme = "elasticsearch+https" if self.scheme == "https" else "elasticsearch"
        path = self.index + (f"/{self.doc_type}" if self.doc_type else "")
        return f"{scheme}://{auth}{self.host}:{self.port}/{path}"
