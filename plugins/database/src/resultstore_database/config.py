"""URL and settings of the database store, by Celery's setting names and defaults."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url, url_password
from resultstore.registry import import_object

__all__ = ["DatabaseConfig", "parse_url", "DEFAULT_ENGINE_OPTIONS"]

#: Celery's default ``database_engine_options``.
DEFAULT_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 3600}


def parse_url(url: str) -> URL:
    """A SQLAlchemy URL; ``postgresql://`` uses psycopg 3 when psycopg2 is not installed."""
    if url.startswith("db+"):
        url = url[3:]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"Not a database URL: {mask_url(url)!r} ({type(exc).__name__}). Use e.g. "
            f"'db+postgresql://user:pass@host/dbname' or 'db+sqlite:///results.db'."
        ) from None
    written = url_password(url)
    if written is not None and unquote(written) != parsed.password:
        # the password holds a character that ends it in a URL: refuse, never connect with a piece
        raise ImproperlyConfigured(
            f"Not a database URL: {mask_url(url)!r}: the password holds '@', '/', '?' or '#'; "
            f"percent-encode it (urllib.parse.quote(password, safe='')).")
    if (parsed.drivername in ("postgresql", "postgres")
            and importlib.util.find_spec("psycopg2") is None
            and importlib.util.find_spec("psycopg") is not None):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@dataclass(frozen=True)
class DatabaseConfig:
    """Everything :class:`~resultstore_database.store.DatabaseStore` reads from settings."""

    url: URL
    engine_options: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ENGINE_OPTIONS))
    short_lived_sessions: bool = False
    table_names: Mapping[str, str] = field(default_factory=dict)
    table_schemas: Mapping[str, str] = field(default_factory=dict)
    create_tables_at_setup: bool = True
    engine_callback: Callable[[sa.Engine], Any] | None = None
    extended: bool = False
    expires: float | None = 86400.0
    failure_expires: float | None = 86400.0
    chord_expires: float | None = 86400.0

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> DatabaseConfig:
        """``url`` (or ``database_url``) plus the ``database_*`` and expiry settings."""
        url = url or settings.get("database_url") or ""
        if not url:
            raise ImproperlyConfigured(
                "The database result backend needs a URL: result_backend = "
                "'db+postgresql://user:pass@host/dbname' (or set database_url).")
        options = settings.get("database_engine_options")
        callback = settings.get("database_engine_callback")
        if isinstance(callback, str):
            callback = import_object(callback)
        if callback is not None and not callable(callback):
            raise ImproperlyConfigured(f"database_engine_callback must be callable, got {callback!r}")
        create = settings.get("database_create_tables_at_setup")
        return cls(
            url=parse_url(url),
            engine_options=dict(DEFAULT_ENGINE_OPTIONS if options is None else options),
            short_lived_sessions=bool(settings.get("database_short_lived_sessions")),
            table_names=dict(settings.get("database_table_names") or {}),
            table_schemas=dict(settings.get("database_table_schemas") or {}),
            create_tables_at_setup=True if create is None else bool(create),
            engine_callback=callback,
            extended=bool(settings["result_extended"]),
            expires=settings.expires,
            failure_expires=settings.failure_expires,
            chord_expires=settings.chord_expires,
        )
