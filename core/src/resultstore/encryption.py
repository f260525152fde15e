"""Encryption at rest: the ``aes-gcm`` payload transform (AES-256-GCM via ``cryptography``).

Enable with ``resultstore_transforms = ["zlib", "aes-gcm"]`` (compress, then
encrypt; ``hmac-sha256`` may follow as the outermost layer) and
``resultstore_encryption_keys``: an ordered mapping of key id to a 32-byte key
(bytes, or text in base64 or hex), or a ``"pkg.mod:callable"`` path (or a
callable) returning one, so a KMS or secret manager can supply them.  Writes
use the first key; reads accept any listed key, found by the key id carried
in-band.  The record key (``celery-task-meta-<id>``) is associated data, so a
value copied to another task's record is refused.  Needs the ``cryptography``
package: ``pip install "resultstore[encryption]"``.

Stored body after the ``\\x00rs:aes-gcm\\x00`` marker::

    version (1 byte, 1) | key id length (1 byte) | key id (UTF-8) | nonce (12 bytes) | ciphertext+tag
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any, cast

from .errors import DecodeError, DecryptionError, ImproperlyConfigured, UnknownEncryptionKey
from .transforms import PayloadContext

__all__ = ["AesGcmTransform", "load_keys"]

VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
#: Domain tag of the associated data (the record key and the header follow it).
DOMAIN = b"resultstore-aes-gcm-v1\x00"
INSTALL_HINT = 'The aes-gcm transform needs the cryptography package: pip install "resultstore[encryption]".'


def _key_bytes(key_id: str, value: Any) -> bytes:
    """A 32-byte key from bytes, base64 or hex text; the value itself never appears in errors."""
    raw: bytes | None = None
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value.strip()
        for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
            try:
                candidate = decode(text)
            except (ValueError, binascii.Error):
                continue
            if len(candidate) == 32:
                raw = candidate
                break
    if raw is None or len(raw) != 32:
        raise ImproperlyConfigured(
            f"resultstore_encryption_keys[{key_id!r}] must be 32 bytes (AES-256), or text holding "
            f"32 bytes in base64 or hex; got a {type(value).__name__} that is not."
        )
    return raw


def load_keys(spec: Any) -> dict[str, bytes]:
    """Resolve ``resultstore_encryption_keys`` into ``{key id: 32-byte key}`` (order kept)."""
    if isinstance(spec, str):
        from .registry import import_object

        try:
            spec = import_object(spec)
        except (ImportError, AttributeError) as exc:
            raise ImproperlyConfigured(
                f"resultstore_encryption_keys names {spec!r}, which cannot be imported: "
                f"{type(exc).__name__}."
            ) from None
    if callable(spec) and not isinstance(spec, Mapping):
        spec = spec()
    pairs = list(spec.items()) if isinstance(spec, Mapping) else list(spec or ())
    keys: dict[str, bytes] = {}
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ImproperlyConfigured(
                "resultstore_encryption_keys must map key ids (text) to keys, in order."
            )
        key_id, value = pair
        if not key_id or len(key_id.encode("utf-8")) > 255:
            raise ImproperlyConfigured(f"Encryption key id {key_id[:40]!r} must be 1-255 bytes.")
        keys[key_id] = _key_bytes(key_id, value)
    if not keys:
        raise ImproperlyConfigured(
            "The aes-gcm transform needs resultstore_encryption_keys: an ordered mapping of key "
            "id to 32-byte key (the first encrypts, all decrypt), or a 'pkg.mod:callable' returning one."
        )
    return keys


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - exercised where cryptography is missing
        raise ImproperlyConfigured(INSTALL_HINT) from None
    return AESGCM


class AesGcmTransform:
    """AES-256-GCM with a random 96-bit nonce per payload and the record key as associated data.

    Built without keys by the hook (so listing transforms imports nothing); the
    :class:`~resultstore.transforms.TransformChain` binds the configured keys.
    Keys are resolved (and a callable called) once, on first use.
    """

    name = "aes-gcm"

    def __init__(self, keys: Any = None) -> None:
        self._spec = keys
        self._ciphers: dict[str, Any] | None = None
        self._first: str = ""

    @property
    def configured(self) -> bool:
        return self._spec is not None

    def _load(self) -> dict[str, Any]:
        if self._ciphers is None:
            cipher = _aesgcm()
            keys = load_keys(self._spec)
            self._first = next(iter(keys))
            self._ciphers = {key_id: cipher(key) for key_id, key in keys.items()}
        return self._ciphers

    @staticmethod
    def _aad(header: bytes, context: PayloadContext) -> bytes:
        bound = context.key.encode("utf-8", "surrogatepass")
        return DOMAIN + len(bound).to_bytes(4, "big") + bound + header

    def encode(self, payload: bytes, context: PayloadContext) -> bytes:
        ciphers = self._load()
        kid = self._first.encode("utf-8")
        header = bytes([VERSION, len(kid)]) + kid
        nonce = os.urandom(NONCE_SIZE)
        sealed = cast(bytes, ciphers[self._first].encrypt(nonce, payload, self._aad(header, context)))
        return header + nonce + sealed

    def decode(self, payload: bytes, context: PayloadContext) -> bytes:
        ciphers = self._load()
        if len(payload) < 2 or payload[0] != VERSION:
            raise DecryptionError(
                f"Encrypted payload for {context.key or 'a keyless read'} has an unknown format "
                f"(version {payload[:1].hex() or 'missing'}): corrupt or tampered."
            )
        end = 2 + payload[1]
        header, nonce, sealed = payload[:end], payload[end:end + NONCE_SIZE], payload[end + NONCE_SIZE:]
        if len(sealed) < TAG_SIZE:
            raise DecryptionError(f"Encrypted payload for {context.key or 'a keyless read'} is truncated.")
        key_id = header[2:].decode("utf-8", "replace")
        cipher = ciphers.get(key_id)
        if cipher is None:
            raise UnknownEncryptionKey(
                f"Payload for {context.key or 'a keyless read'} was encrypted with key id "
                f"{key_id[:40]!r}, which is not in resultstore_encryption_keys (ids: {list(ciphers)})."
            )
        from cryptography.exceptions import InvalidTag

        try:
            plain = cast(bytes, cipher.decrypt(nonce, sealed, self._aad(header, context)))
        except InvalidTag:
            raise DecryptionError(
                f"Payload for {context.key or 'a keyless read'} does not decrypt under key id "
                f"{key_id[:40]!r}: it was tampered with, copied from another record, or encrypted "
                f"with another key of the same id."
            ) from None
        if context.max_size and len(plain) > context.max_size:
            raise DecodeError(f"Decrypted payload exceeds resultstore_max_payload_size ({context.max_size}).")
        return plain

    def __repr__(self) -> str:
        ids = list(self._ciphers) if self._ciphers is not None else "unloaded"
        return f"AesGcmTransform(key_ids={ids})"

