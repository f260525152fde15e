"""Payload transforms: opt-in compression and signing, extensible through hooks.

A transformed payload carries a marker ``b'\\x00rs:' + name + b'\\x00'`` so a
reader that lacks the transform fails with a clear :class:`DecodeError` naming
it, instead of handing garbage to the deserializer.  Enable with the setting
``resultstore_transforms = ["zlib", "hmac-sha256"]`` (applied in that order);
signing needs ``resultstore_signing_key`` and is always the outermost layer.

Every call gets a :class:`PayloadContext`: the record the payload belongs to
(``key``, e.g. ``celery-task-meta-<id>``, without ``global_keyprefix``) and
the inflation bound.  The signer binds its MAC to ``key``, so a signed value
copied to another task's key is refused; the ``aes-gcm`` transform
(:mod:`resultstore.encryption`) uses it as associated data.  When signing is
enabled, the signature is checked before anything else is done with the
payload, and unsigned payloads are refused; when encryption is enabled,
unencrypted payloads are refused (:class:`~resultstore.errors.PlaintextRefused`).
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import DecodeError, ImproperlyConfigured, PlaintextRefused, SecurityError
from .hooks import hookimpl
from .inflate import DEFAULT_MAX_PAYLOAD_SIZE, inflate

__all__ = ["Transform", "PayloadContext", "ZlibTransform", "HmacSigner", "TransformChain",
           "MARKER"]

MARKER = b"\x00rs:"
ENCRYPTED = MARKER + b"aes-gcm\x00"
_SETTING_HINT = {"hmac-sha256": "; set resultstore_signing_key",
                 "aes-gcm": "; set resultstore_encryption_keys"}
#: More nested transform layers than this is hostile, not configuration.
MAX_LAYERS = 16


@dataclass(frozen=True)
class PayloadContext:
    """What a transform knows about the payload it handles."""

    #: The record the payload belongs to: ``celery-task-meta-<id>``,
    #: ``celery-taskset-meta-<id>`` or ``celery-taskset-meta-<id>.j`` (chord parts),
    #: never with ``global_keyprefix``; ``""`` when the caller has no key.
    key: str = ""
    #: Bound on any size a transform produces while decoding (``0``: none).
    max_size: int = DEFAULT_MAX_PAYLOAD_SIZE


class Transform(Protocol):
    """Turns payload bytes into other bytes and back."""

    #: Short ASCII name written into the marker.
    name: str

    def encode(self, payload: bytes, context: PayloadContext) -> bytes:
        """Transform a payload before it is stored."""

    def decode(self, payload: bytes, context: PayloadContext) -> bytes:
        """Undo :meth:`encode`; raise DecodeError/SecurityError on bad input.

        Never produce more than ``context.max_size`` bytes (see
        :func:`resultstore.inflate.inflate`).
        """


class ZlibTransform:
    """zlib compression (level 6), inflated with a bound."""

    name = "zlib"

    def encode(self, payload: bytes, context: PayloadContext) -> bytes:
        return zlib.compress(payload, 6)

    def decode(self, payload: bytes, context: PayloadContext) -> bytes:
        return inflate(payload, "zlib", context.max_size, "zlib-transformed payload")


class HmacSigner:
    """HMAC-SHA256 over the record key and the payload; verified in constant time."""

    name = "hmac-sha256"
    #: Domain tag of the MAC input (v2: bound to the record key).
    VERSION = b"resultstore-hmac-v2\x00"

    def __init__(self, key: bytes | str | None = None) -> None:
        self.key = key.encode("utf-8") if isinstance(key, str) else key

    def _mac(self, payload: bytes, context: PayloadContext) -> bytes:
        if not self.key:
            raise ImproperlyConfigured(
                "The hmac-sha256 transform needs a key: set resultstore_signing_key."
            )
        bound = context.key.encode("utf-8", "surrogatepass")
        mac = hmac.new(self.key, self.VERSION, hashlib.sha256)
        mac.update(len(bound).to_bytes(4, "big") + bound)
        mac.update(payload)
        return mac.digest()

    def encode(self, payload: bytes, context: PayloadContext) -> bytes:
        return self._mac(payload, context) + payload

    def decode(self, payload: bytes, context: PayloadContext) -> bytes:
        mac, body = payload[:32], payload[32:]
        if not hmac.compare_digest(mac, self._mac(body, context)):
            raise SecurityError(
                f"Payload signature does not match for {context.key or 'a keyless read'}: "
                f"refusing a tampered result, a value copied from another key, or one signed "
                f"with another resultstore_signing_key."
            )
        return body

    def __repr__(self) -> str:
        return "HmacSigner(key=***)"


@hookimpl
def resultstore_transforms() -> list[Transform]:
    """The built-in transforms (keys are filled in by :class:`TransformChain`)."""
    from .encryption import AesGcmTransform

    return [ZlibTransform(), HmacSigner(), AesGcmTransform()]


class TransformChain:
    """The configured transforms, applied in order on encode and peeled on decode."""

    def __init__(self, enabled: Sequence[str], available: Mapping[str, Transform],
                 signing_key: bytes | str | None = None, encryption_keys: Any = None) -> None:
        from .encryption import AesGcmTransform

        missing = [name for name in enabled if name not in available]
        if missing:
            raise ImproperlyConfigured(
                f"Unknown payload transform(s) {missing}; available: {sorted(available)}. "
                f"Install the plugin providing them (entry-point group resultstore.hooks)."
            )
        self.available = {
            name: HmacSigner(signing_key) if isinstance(t, HmacSigner)
            else AesGcmTransform(encryption_keys) if isinstance(t, AesGcmTransform) and name in enabled
            else t
            for name, t in available.items()
        }
        self.enabled = [self.available[name] for name in enabled]
        signers = [i for i, t in enumerate(self.enabled) if isinstance(t, HmacSigner)]
        self.require_signature = bool(signers)
        if self.require_signature and not signing_key:
            raise ImproperlyConfigured(
                "The hmac-sha256 transform needs a key: set resultstore_signing_key."
            )
        if signers and signers != [len(self.enabled) - 1]:
            raise ImproperlyConfigured(
                f"hmac-sha256 must be the last of resultstore_transforms (got {list(enabled)}): "
                f"readers check the signature before doing anything else with a payload."
            )

        self.require_encryption = AesGcmTransform.name in enabled
        if self.require_encryption:
            self._check_encryption_order(list(enabled))

    @staticmethod
    def _check_encryption_order(enabled: list[str]) -> None:
        after = enabled[enabled.index("aes-gcm") + 1:]
        if any(name != HmacSigner.name for name in after):
            raise ImproperlyConfigured(
                f"Only hmac-sha256 may follow aes-gcm in resultstore_transforms (got {enabled}): "
                f"compress before encrypting, since ciphertext does not compress."
            )

    def __bool__(self) -> bool:
        return bool(self.enabled)

    def encode(self, payload: bytes, context: PayloadContext) -> bytes:
        for transform in self.enabled:
            payload = (MARKER + transform.name.encode("ascii") + b"\x00"
                       + transform.encode(payload, context))
        return payload

    def _layer(self, payload: bytes) -> tuple[str, Transform | None, bytes]:
        name, sep, body = payload[len(MARKER):].partition(b"\x00")
        shown = name[:40].decode("ascii", "replace") if sep else "(unterminated marker)"
        return shown, self.available.get(shown) if sep else None, body

    def decode(self, payload: bytes, context: PayloadContext) -> bytes:
        """Peel every marked layer; with signing enabled, verify before anything else."""
        if self.require_signature:
            name, signer, body = self._layer(payload) if payload.startswith(MARKER) else ("", None, b"")
            if not isinstance(signer, HmacSigner):
                found = f"its outer layer is {name!r}" if name else "it carries no transform marker"
                raise SecurityError(
                    f"Refusing an unsigned payload ({found}): signing (hmac-sha256) is enabled, "
                    f"so nothing else is done with it."
                )
            payload = signer.decode(body, context)
        if self.require_encryption and not payload.startswith(ENCRYPTED):
            found = "its outer layer is " + repr(self._layer(payload)[0]) if payload.startswith(MARKER) \
                else "it carries no transform marker"
            raise PlaintextRefused(
                f"Refusing an unencrypted payload for {context.key or 'a keyless read'} ({found}): "
                f"aes-gcm is enabled, so every stored payload must be encrypted."
            )
        for _ in range(MAX_LAYERS):
            if not payload.startswith(MARKER):
                return payload
            name, transform, body = self._layer(payload)
            if transform is None or not getattr(transform, "key", True) \
                    or not getattr(transform, "configured", True):
                raise DecodeError(
                    f"Payload was written with the {name!r} transform, which this reader does "
                    f"not have enabled (enabled: {[t.name for t in self.enabled]}). Add {name!r} "
                    f"to resultstore_transforms (and install its plugin"
                    f"{_SETTING_HINT.get(name, '')})."
                )
            payload = transform.decode(body, context)
        raise DecodeError(f"Refusing a payload with more than {MAX_LAYERS} transform layers.")
