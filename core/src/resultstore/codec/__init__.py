"""Encoding and decoding of task metas, exactly as Celery does it.

>>> codec = Codec()
>>> codec.decode(codec.encode({"status": "SUCCESS", "result": 4}))
{'status': 'SUCCESS', 'result': 4}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import states
from ..errors import DecodeError, ResultStoreError
from ..transforms import TransformChain
from .compression import COMPRESSED_PAYLOAD_MAGIC, compress_payload, decompress_payload, resolve_compression
from .exceptions import (
    ensure_serializable,
    exception_to_dict,
    exception_to_python,
    pickleable_exception,
    standin_class,
)
from .meta import as_tuple, build_meta, children_of, pending_meta
from .serializers import Serializer, check_accepted, get_serializer, json_dumps, json_loads, resolve_accept

__all__ = [
    "Codec", "build_meta", "pending_meta", "children_of", "as_tuple", "exception_to_python",
    "exception_to_dict", "ensure_serializable", "standin_class", "json_dumps", "json_loads",
    "get_serializer", "Serializer", "COMPRESSED_PAYLOAD_MAGIC",
]


class Codec:
    """Serializer + accept list + compression + transforms for one backend."""

    def __init__(self, serializer: str = "json", accept: Iterable[str] = ("json",),
                 compression: str | None = None, transforms: TransformChain | None = None) -> None:
        self.serializer: Serializer = get_serializer(serializer)
        self.accept = resolve_accept(accept)
        self.compression = resolve_compression(compression)
        self.transforms = transforms

    # -- payloads -------------------------------------------------------
    def encode(self, data: Any) -> bytes:
        """Serialize, then compress (Celery's marker), then apply transforms."""
        payload = self.serializer.dumps(data)
        if self.compression:
            payload = compress_payload(payload, self.compression)
        if self.transforms:
            payload = self.transforms.encode(payload)
        return payload

    def decode(self, payload: bytes | str) -> Any:
        """Undo :meth:`encode`; raise :class:`DecodeError` on anything unreadable."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if self.transforms is not None:
            payload = self.transforms.decode(payload)
        payload = decompress_payload(payload)
        check_accepted(self.serializer, self.accept)
        try:
            return self.serializer.loads(payload)
        except ResultStoreError:
            raise
        except Exception as exc:
            raise DecodeError(
                f"Cannot decode a stored result as {self.serializer.content_type}: "
                f"{type(exc).__name__}: {str(exc)[:200]}. Check that every writer uses "
                f"result_serializer={self.serializer.name!r} and the same transforms."
            ) from exc

    # -- results ----------------------------------------------------------
    def prepare_exception(self, exc: BaseException, serializer: str | None = None) -> Any:
        """Celery's ``prepare_exception``: a dict, or the exception itself for pickle."""
        chosen = get_serializer(serializer) if serializer else self.serializer
        if chosen.carries_exceptions:
            return pickleable_exception(exc)
        return exception_to_dict(exc, self.serializer.dumps)

    def encode_result(self, result: Any, state: str) -> Any:
        """Celery's ``encode_result``: exceptions to dicts, result objects to tuples."""
        if state in states.EXCEPTION_STATES and isinstance(result, BaseException):
            return self.prepare_exception(result)
        if not self.serializer.carries_exceptions:
            return as_tuple(result)
        return result

    def exception_to_python(self, exc: Any) -> BaseException | None:
        """Rebuild a stored exception with the security checks."""
        return exception_to_python(exc)

    def meta_from_decoded(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Turn the stored exception of an exception state into an exception (idempotent)."""
        if meta.get("status") in states.EXCEPTION_STATES:
            meta["result"] = exception_to_python(meta.get("result"))
        return meta

    def decode_meta(self, payload: bytes | str) -> dict[str, Any]:
        """Decode a stored task meta and rebuild its exception."""
        meta = self.decode(payload)
        if not isinstance(meta, dict) or "status" not in meta:
            raise DecodeError(
                f"Stored value is not a task meta (got {type(meta).__name__} without 'status')."
            )
        return self.meta_from_decoded(meta)
