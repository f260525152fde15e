"""Every error resultstore raises, in one hierarchy.

All of them derive from :class:`ResultStoreError`; messages say what happened
and what to do about it.  Secrets never appear in messages (URLs are masked
by the caller before they are formatted in).
"""

from __future__ import annotations

import builtins

__all__ = [
    "ResultStoreError", "ImproperlyConfigured", "UnknownBackend", "BackendConflict",
    "PluginImportError", "BackendError", "BackendStoreError", "BackendGetMetaError",
    "DecodeError", "SecurityError", "ChordError", "TimeoutError", "NotSupported",
    "InvalidTaskId", "ResultDisabled", "ChordClaimLost", "CorruptResultError",
    "DecryptionError", "UnknownEncryptionKey", "PlaintextRefused", "OffloadError",
    "OffloadedResultMissing",
]


class ResultStoreError(Exception):
    """Base class of every resultstore error."""


class ImproperlyConfigured(ResultStoreError, ValueError):
    """A setting or URL is missing or malformed."""


class UnknownBackend(ImproperlyConfigured):
    """No backend is registered for a URL scheme."""

    def __init__(self, scheme: str, installed: list[str]) -> None:
        self.scheme = scheme
        self.installed = installed
        names = ", ".join(sorted(installed)) or "none"
        super().__init__(
            f"No result backend for scheme {scheme!r}. Installed backends: {names}. "
            f"Install the plugin that provides it, e.g. `pip install resultstore-{scheme}`, "
            f"or name a class directly as 'package.module:Class'."
        )


class BackendConflict(ImproperlyConfigured):
    """Two installed distributions register the same alias."""

    def __init__(self, alias: str, claimants: list[str]) -> None:
        self.alias = alias
        self.claimants = claimants
        super().__init__(
            f"Backend alias {alias!r} is registered by more than one distribution: "
            f"{', '.join(claimants)}. Uninstall one of them, or pick one explicitly with "
            f"override_backends={{{alias!r}: 'package.module:Class'}}."
        )


class PluginImportError(ImproperlyConfigured):
    """A plugin's entry point could not be imported."""

    def __init__(self, alias: str, target: str, distribution: str, cause: BaseException) -> None:
        self.alias = alias
        self.target = target
        self.distribution = distribution
        self.cause = cause
        super().__init__(
            f"Backend {alias!r} ({target}, from {distribution}) failed to import: "
            f"{type(cause).__name__}: {cause}. Reinstall {distribution} or its dependencies; "
            f"other backends are unaffected."
        )


class NotSupported(ResultStoreError, NotImplementedError):
    """The store does not offer an operation (e.g. listing keys)."""


class InvalidTaskId(ResultStoreError, ValueError):
    """A task or group id is empty, not a string, or unsafe for the store."""


class BackendError(ResultStoreError):
    """The storage failed; carries the task id and state when known."""

    def __init__(self, message: str = "", *, task_id: str | None = None,
                 state: str | None = None) -> None:
        super().__init__(message)
        # after super(): Celery's twin classes (resultstore.celery.exceptions) reset both
        self.task_id = task_id
        self.state = state

    def __str__(self) -> str:
        base = super().__str__()
        details = [f"{k}={v}" for k, v in (("task_id", self.task_id), ("state", self.state)) if v]
        return f"{base} ({', '.join(details)})" if details else base


class BackendStoreError(BackendError):
    """Writing a result failed (after retries when they are enabled)."""


class BackendGetMetaError(BackendError):
    """Reading a result failed (after retries when they are enabled)."""


class DecodeError(ResultStoreError, ValueError):
    """A stored payload cannot be decoded (wrong serializer, missing transform, corrupt)."""


class CorruptResultError(DecodeError):
    """A stored record decodes but is not what it must be (a meta without ``status`` or
    ``result``, a status that is not a string, a Redis key of another type...)."""


class SecurityError(ResultStoreError):
    """A payload tried something unsafe (non-exception class, disallowed content type)."""


class DecryptionError(SecurityError):
    """An encrypted payload does not decrypt: tampered, copied from another record, or
    encrypted with another key under the same key id (AES-GCM cannot tell these apart)."""


class UnknownEncryptionKey(DecryptionError):
    """An encrypted payload names a key id that ``resultstore_encryption_keys`` lacks."""


class PlaintextRefused(SecurityError):
    """A payload is not encrypted while the ``aes-gcm`` transform is enabled."""


class OffloadError(CorruptResultError):
    """An offloaded result cannot be read: its pointer is malformed, or the object does
    not match the pointer's size and sha256 (corrupt or replaced)."""


class OffloadedResultMissing(OffloadError):
    """The object an offload pointer names is not in the offload store."""


class ChordError(ResultStoreError):
    """A chord header task failed, or the chord join failed."""


class ChordClaimLost(ResultStoreError):
    """This worker's claim on a completed chord expired and another owner may dispatch
    its body: do not dispatch it here (Celery logs and skips in the same case)."""


class TimeoutError(ResultStoreError, builtins.TimeoutError):
    """Waiting for a result took longer than the timeout."""


class ResultDisabled(ImproperlyConfigured):
    """Results are disabled (``disabled://`` backend or no backend configured)."""

    def __init__(self) -> None:
        super().__init__(
            "No result backend is configured, so results cannot be read. "
            "Set result_backend (e.g. 'redis://localhost:6379/0' or 'file:///var/results')."
        )
