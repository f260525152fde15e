"""The built-in stores: ``memory://`` and ``disabled://``."""

from .disabled import DisabledStore
from .memory import MemoryStore

__all__ = ["MemoryStore", "DisabledStore"]
