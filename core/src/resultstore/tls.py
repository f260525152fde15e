"""Recognising TLS certificate-verification failures, whatever client library wrapped them.

A server certificate that does not verify (unknown CA, expired, wrong host
name) fails every attempt the same way, so retrying it only delays the error.
Client libraries wrap it in their own connection errors (redis-py's
``ConnectionError``, botocore's ``SSLError``, SQLAlchemy's ``OperationalError``,
azure-core's ``ServiceRequestError``, requests' ``SSLError``): the ``ssl``
exception is then found in the exception chain, or only in the message.

>>> import ssl
>>> is_certificate_error(ConnectionError("Error 1 connecting: [SSL: CERTIFICATE_VERIFY_FAILED]"))
True
>>> is_certificate_error(ConnectionError("Connection refused"))
False
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

__all__ = ["is_certificate_error", "GENERIC_CERTIFICATE_SETTINGS"]

#: What a store without its own ``certificate_settings`` tells the user to check.
GENERIC_CERTIFICATE_SETTINGS = ("the store's TLS settings (CA bundle, client certificate, "
                                "host name) in its URL or settings")

_MARKERS = ("certificate_verify_failed", "certificate verify failed",
            "sslcertverificationerror")
_MAX_LINKS = 16


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes/contexts and exceptions carried in ``args`` (bounded, no cycles)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < _MAX_LINKS:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))


def is_certificate_error(exc: BaseException) -> bool:
    """True when ``exc`` (or anything it wraps) is a TLS certificate-verification failure."""
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            return True
        if getattr(link, "reason", None) == "CERTIFICATE_VERIFY_FAILED":  # ssl.SSLError
            return True
        text = str(link).lower()
        if any(marker in text for marker in _MARKERS):
            return True
    return False
