"""``file://`` URLs: the directory and the store's options.

``file:///var/results`` and ``file://localhost/var/results`` name an absolute
directory, ``file://./results`` a relative one, exactly as Celery's
``FilesystemBackend`` reads them (the path is used verbatim, not
percent-decoded, so both backends open the same directory).  Options go in
the query string::

    file:///var/results?create=0&fsync=0&watch=poll&poll_interval=0.1

``create``  (default ``1``) create a missing directory (logged) instead of failing
``fsync``   (default ``0``, Celery's durability) ``1``: fsync each file before it is renamed into place
``watch``   ``auto`` (inotify on Linux, else polling), ``inotify`` or ``poll``
``poll_interval``  seconds between checks of the polling watcher (default ``0.05``)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from resultstore.errors import ImproperlyConfigured

__all__ = ["FileOptions", "parse_url"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_WATCH = ("auto", "inotify", "poll")


@dataclass(frozen=True)
class FileOptions:
    """Parsed ``file://`` URL."""

    path: str
    create: bool = True
    fsync: bool = False
    watch: str = "auto"
    poll_interval: float = 0.05

    def as_uri(self) -> str:
        """The URL this directory is opened with (no options; nothing secret in it)."""
        return f"file://{self.path}"


def _flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"file:// option {name}={value!r}: use 1/0, true/false, yes/no or on/off.")


def parse_url(url: str) -> FileOptions:
    """Parse a ``file://`` URL; raise ImproperlyConfigured with the accepted forms."""
    if url.startswith("file://localhost/"):
        rest = url[len("file://localhost"):]
    elif url.startswith("file://"):
        rest = url[len("file://"):]
    else:
        raise ImproperlyConfigured(
            f"The file backend needs a URL like 'file:///path/to/dir', got {url!r}.")
    path, _, query = rest.partition("?")
    if not path:
        raise ImproperlyConfigured(
            "The file backend needs a directory: 'file:///path/to/dir' (absolute) or "
            "'file://./dir' (relative to the working directory).")
    if "\x00" in path:
        raise ImproperlyConfigured("The file backend directory contains a NUL byte.")
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in {"create", "fsync", "watch", "poll_interval"}:
            raise ImproperlyConfigured(
                f"Unknown file:// option {key!r}; known: create, fsync, watch, poll_interval.")
        options[key] = value
    watch = options.get("watch", "auto")
    if watch not in _WATCH:
        raise ImproperlyConfigured(f"file:// option watch={watch!r}: use one of {', '.join(_WATCH)}.")
    try:
        interval = float(options.get("poll_interval", "0.05"))
    except ValueError:
        raise ImproperlyConfigured(f"file:// option poll_interval={options['poll_interval']!r} "
                                   f"is not a number of seconds.")
    if not 0 < interval <= 60:
        raise ImproperlyConfigured("file:// option poll_interval must be in (0, 60] seconds.")
    return FileOptions(
        path=path,
        create=_flag("create", options.get("create", "1")),
        fsync=_flag("fsync", options.get("fsync", "0")),
        watch=watch,
        poll_interval=interval,
    )
