"""aes-gcm on MongoDB: native BSON results cannot be encrypted, so that combination is refused."""

from __future__ import annotations

import pytest

from resultstore.codec import Codec
from resultstore.errors import ImproperlyConfigured
from resultstore.transforms import TransformChain, resultstore_transforms
from resultstore_mongodb.documents import FieldCodec

pytest.importorskip("cryptography", reason="aes-gcm needs cryptography")


def _codec(serializer: str) -> Codec:
    chain = TransformChain(["aes-gcm"], {t.name: t for t in resultstore_transforms()},
                           encryption_keys={"k1": b"\x01" * 32})
    return Codec(serializer, [serializer], transforms=chain)


def test_bson_with_encryption_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot encrypt"):
        FieldCodec(_codec("bson"))


def test_json_results_are_encrypted() -> None:
    fields = FieldCodec(_codec("json"))
    stored = fields.encode({"secret": 1}, "celery-task-meta-t1")
    assert isinstance(stored, bytes) and b"secret" not in stored
    assert fields.decode(stored, "celery-task-meta-t1") == {"secret": 1}
