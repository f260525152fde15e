"""``rpc://`` URLs and the settings the rpc store reads (Celery's names where Celery has one)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kombu

from resultstore.config import Settings
from resultstore.errors import ImproperlyConfigured
from resultstore.masking import mask_url

from .buffer import DEFAULT_BUFFER_MAX

__all__ = ["RPCOptions", "ConnectionFactory", "broker_connection_factory", "DEFAULT_BROKER_URL"]

log = logging.getLogger("resultstore.rpc")

#: Celery's broker when none is configured.
DEFAULT_BROKER_URL = "amqp://guest@localhost:5672//"

#: Opens a new kombu connection to the broker; keywords override connection options.
ConnectionFactory = Callable[..., kombu.Connection]


@dataclass(frozen=True)
class RPCOptions:
    """What the store needs from the URL and the settings."""

    #: ``result_persistent``: delivery mode 2 (persistent) instead of 1, as Celery.
    persistent: bool
    #: ``result_expires``: the reply queue's ``x-expires`` (seconds), as Celery.
    expires: float | None
    #: ``result_chord_expires``: ``x-expires`` of a chord's parts queue.
    chord_expires: float | None
    #: ``resultstore_rpc_reply_to``: the reply queue of a store used without Celery.
    reply_to: str
    #: ``resultstore_rpc_buffer_max``: tasks whose latest state the client keeps.
    buffer_max: int

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RPCOptions:
        scheme, sep, rest = url.partition("://")
        if scheme != "rpc" or not sep:
            raise ImproperlyConfigured(f"The rpc store serves 'rpc://' URLs, got {scheme!r}.")
        if rest.strip("/"):
            # Celery's RPCBackend ignores everything after rpc:// as well; the broker
            # is the app's (broker_url).
            log.debug("rpc: ignoring %r after rpc:// (results travel over broker_url)",
                      mask_url(url))
        buffer_max = settings.get("resultstore_rpc_buffer_max") or DEFAULT_BUFFER_MAX
        try:
            buffer_max = int(buffer_max)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(
                f"resultstore_rpc_buffer_max must be a positive integer, got {buffer_max!r}") from None
        if buffer_max < 1:
            raise ImproperlyConfigured("resultstore_rpc_buffer_max must be at least 1.")
        persistent = settings.get("result_persistent")
        return cls(
            persistent=bool(persistent) if persistent is not None else False,
            expires=settings.expires,
            chord_expires=settings.chord_expires,
            reply_to=str(settings.get("resultstore_rpc_reply_to") or uuid.uuid4()),
            buffer_max=buffer_max,
        )

    @property
    def delivery_mode(self) -> int:
        return 2 if self.persistent else 1


def broker_connection_factory(settings: Settings) -> ConnectionFactory:
    """Connections to the broker named by Celery's ``broker_*`` settings (used without Celery)."""
    url = settings.get("broker_read_url") or settings.get("broker_url") or DEFAULT_BROKER_URL
    options: dict[str, Any] = {}
    for setting, option in (("broker_use_ssl", "ssl"), ("broker_login_method", "login_method"),
                            ("broker_transport_options", "transport_options"),
                            ("broker_connection_timeout", "connect_timeout"),
                            ("broker_heartbeat", "heartbeat")):
        value = settings.get(setting)
        if value is not None:
            options[option] = value

    def connect(**overrides: Any) -> kombu.Connection:
        return kombu.Connection(url, **{**options, **overrides})

    return connect
