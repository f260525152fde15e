"""Payload transforms: opt-in compression and signing, extensible through hooks.

A transformed payload carries a marker ``b'\\x00rs:' + name + b'\\x00'`` so a
reader that lacks the transform fails with a clear :class:`DecodeError` instead
of handing garbage to the deserializer.  Enable with the setting
``resultstore_transforms = ["zlib", "hmac-sha256"]`` (applied in that order);
signing needs ``resultstore_signing_key``.  When signing is enabled, unsigned
payloads are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Mapping, Sequence
from typing import Protocol

from .errors import DecodeError, ImproperlyConfigured, SecurityError
from .hooks import hookimpl

__all__ = ["Transform", "ZlibTransform", "HmacSigner", "TransformChain", "MARKER"]

MARKER = b"\x00rs:"


class Transform(Protocol):
    """Turns payload bytes into other bytes and back."""

    #: Short ASCII name written into the marker.
    name: str

    def encode(self, payload: bytes) -> bytes:
        """Transform a payload before it is stored."""

    def decode(self, payload: bytes) -> bytes:
        """Undo :meth:`encode`; raise DecodeError/SecurityError on bad input."""


class ZlibTransform:
    """zlib compression (level 6)."""

    name = "zlib"

    def encode(self, payload: bytes) -> bytes:
        return zlib.compress(payload, 6)

    def decode(self, payload: bytes) -> bytes:
        try:
            return zlib.decompress(payload)
        except zlib.error as exc:
            raise DecodeError(f"Corrupt zlib-transformed payload: {exc}") from exc


class HmacSigner:
    """HMAC-SHA256 signature in front of the payload; verified in constant time."""

    name = "hmac-sha256"

    def __init__(self, key: bytes | str | None = None) -> None:
        self.key = key.encode("utf-8") if isinstance(key, str) else key

    def _mac(self, payload: bytes) -> bytes:
        if not self.key:
            raise ImproperlyConfigured(
                "The hmac-sha256 transform needs a key: set resultstore_signing_key."
            )
        return hmac.new(self.key, payload, hashlib.sha256).digest()

    def encode(self, payload: bytes) -> bytes:
        return self._mac(payload) + payload

    def decode(self, payload: bytes) -> bytes:
        mac, body = payload[:32], payload[32:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise SecurityError("Payload signature does not match: refusing a tampered result.")
        return body

    def __repr__(self) -> str:
        return "HmacSigner(key=***)"


@hookimpl
def resultstore_transforms() -> list[Transform]:
    """The built-in transforms (keys are filled in by :class:`TransformChain`)."""
    return [ZlibTransform(), HmacSigner()]


class TransformChain:
    """The configured transforms, applied in order on encode and peeled on decode."""

    def __init__(self, enabled: Sequence[str], available: Mapping[str, Transform],
                 signing_key: bytes | str | None = None) -> None:
        missing = [name for name in enabled if name not in available]
        if missing:
            raise ImproperlyConfigured(
                f"Unknown payload transform(s) {missing}; available: {sorted(available)}. "
                f"Install the plugin providing them (entry-point group resultstore.hooks)."
            )
        self.available = {
            name: HmacSigner(signing_key) if isinstance(t, HmacSigner) else t
            for name, t in available.items()
        }
        self.enabled = [self.available[name] for name in enabled]
        self.require_signature = any(isinstance(t, HmacSigner) for t in self.enabled)
        if self.require_signature and not signing_key:
            raise ImproperlyConfigured(
                "The hmac-sha256 transform needs a key: set resultstore_signing_key."
            )

    def __bool__(self) -> bool:
        return bool(self.enabled)

    def encode(self, payload: bytes) -> bytes:
        for transform in self.enabled:
            payload = MARKER + transform.name.encode("ascii") + b"\x00" + transform.encode(payload)
        return payload

    def decode(self, payload: bytes) -> bytes:
        signed = False
        while payload.startswith(MARKER):
            name, sep, body = payload[len(MARKER):].partition(b"\x00")
            transform = self.available.get(name.decode("ascii", "replace")) if sep else None
            if transform is None or (isinstance(transform, HmacSigner) and not transform.key):
                raise DecodeError(
                    f"Payload was written with transform {name[:40]!r}, which this reader does "
                    f"not have enabled. Add it to resultstore_transforms (and install its plugin)."
                )
            signed = signed or isinstance(transform, HmacSigner)
            payload = transform.decode(body)
        if self.require_signature and not signed:
            raise SecurityError("Refusing an unsigned payload: signing (hmac-sha256) is enabled.")
        return payload
