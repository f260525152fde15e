"""``disabled://``: results are turned off; every read says so (Celery's DisabledBackend)."""

from __future__ import annotations

from ..config import Settings
from ..errors import ResultDisabled
from ..spec import Capability, KeyValueStore

__all__ = ["DisabledStore"]


class DisabledStore(KeyValueStore):
    """Writes are dropped; reads raise :class:`~resultstore.errors.ResultDisabled`."""

    capabilities = frozenset({Capability.GUARDED_SET})

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DisabledStore:
        return cls()

    def get(self, key: str) -> bytes | None:
        raise ResultDisabled()

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Results are disabled: nothing is kept."""

    def set_unless_prefix(self, key: str, value: bytes, ttl: float | None,
                          prefix: bytes) -> bool:
        return False

    def delete(self, key: str) -> None:
        """Nothing is kept, so nothing to delete."""

    def as_uri(self, include_password: bool = False) -> str:
        return "disabled://"
