"""Encoding and decoding of task metas, exactly as Celery does it.

>>> codec = Codec()
>>> codec.decode(codec.encode({"status": "SUCCESS", "result": 4}))
{'status': 'SUCCESS', 'result': 4}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import states
from ..errors import CorruptResultError, DecodeError, ResultStoreError
from ..inflate import DEFAULT_MAX_PAYLOAD_SIZE, check_size
from ..transforms import MARKER, PayloadContext, TransformChain
from .compression import COMPRESSED_PAYLOAD_MAGIC, compress_payload, decompress_payload, resolve_compression
from .exceptions import (
    ensure_serializable,
    exception_to_dict,
    exception_to_python,
    pickleable_exception,
    standin_class,
)
from .meta import as_tuple, build_meta, check_group, check_meta, check_part, children_of, pending_meta
from .serializers import Serializer, check_accepted, get_serializer, json_dumps, json_loads, resolve_accept

__all__ = [
    "Codec", "build_meta", "pending_meta", "children_of", "as_tuple", "exception_to_python",
    "exception_to_dict", "ensure_serializable", "standin_class", "json_dumps", "json_loads",
    "get_serializer", "Serializer", "COMPRESSED_PAYLOAD_MAGIC", "check_meta", "check_part",
    "check_group",
]


class Codec:
    """Serializer + accept list + compression + transforms for one backend."""

    def __init__(self, serializer: str = "json", accept: Iterable[str] = ("json",),
                 compression: str | None = None, transforms: TransformChain | None = None,
                 max_payload_size: int = DEFAULT_MAX_PAYLOAD_SIZE) -> None:
        self.serializer: Serializer = get_serializer(serializer)
        self.accept = resolve_accept(accept)
        self.compression = resolve_compression(compression)
        #: Enabled transforms; falsy when none are (markers are still recognised).
        self.transforms = transforms if transforms is not None else TransformChain((), {})
        self.max_payload_size = max_payload_size

    # -- payloads -------------------------------------------------------
    def encode(self, data: Any, key: str = "") -> bytes:
        """Serialize, then compress (Celery's marker), then apply transforms.

        ``key`` names the record (``celery-task-meta-<id>``, no ``global_keyprefix``):
        signing binds the payload to it.
        """
        payload = self.serializer.dumps(data)
        if self.compression:
            payload = compress_payload(payload, self.compression)
        if self.transforms:
            payload = self.transforms.encode(payload, PayloadContext(key, self.max_payload_size))
        return payload

    def decode(self, payload: bytes | str, key: str = "") -> Any:
        """Undo :meth:`encode` for the record ``key``; :class:`DecodeError` on anything unreadable.

        With signing enabled the signature is checked first; every inflation is
        bounded by ``resultstore_max_payload_size``.
        """
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        limit = self.max_payload_size
        if self.transforms or payload.startswith(MARKER):
            payload = self.transforms.decode(payload, PayloadContext(key, limit))
        payload = check_size(decompress_payload(payload, limit), limit)
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
        return self.rebuild_exception(exc)

    def meta_from_decoded(self, meta: dict[str, Any], key: str = "") -> dict[str, Any]:
        """Check the meta's shape and rebuild the exception of an exception state (idempotent).

        :class:`~resultstore.errors.CorruptResultError` when it is not a task meta.
        """
        check_meta(meta, key)
        if meta["status"] in states.EXCEPTION_STATES:
            meta["result"] = self.rebuild_exception(meta["result"], key)
        return meta

    def rebuild_exception(self, exc: Any, key: str = "") -> BaseException | None:
        """:func:`exception_to_python`, malformed dicts raising :class:`CorruptResultError`."""
        try:
            return exception_to_python(exc)
        except ResultStoreError:
            raise
        except (TypeError, ValueError) as err:
            raise CorruptResultError(
                f"Stored record {key or '(no key)'!r} holds an unreadable exception: {err}"
            ) from err

    def decode_meta(self, payload: bytes | str, key: str = "") -> dict[str, Any]:
        """Decode the stored task meta of record ``key`` and rebuild its exception."""
        return self.meta_from_decoded(self.decode(payload, key), key)
