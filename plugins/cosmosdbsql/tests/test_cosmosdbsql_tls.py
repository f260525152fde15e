"""A server certificate that does not verify fails at once, naming the setting to fix, through
azure-cosmos (azure-core, requests) against a real TLS listener (self-signed, on 127.0.0.2:
azure-cosmos skips the check for ``localhost`` and ``127.0.0.1``, the emulator's addresses)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore.errors import BackendGetMetaError
from resultstore.testing.untrusted_tls import untrusted_tls_listener


@pytest.fixture
def untrusted_tls_port(tmp_path: Path) -> Iterator[int]:
    with untrusted_tls_listener(tmp_path, host="127.0.0.2") as port:
        yield port


def test_untrusted_certificate_is_not_retried(untrusted_tls_port: int) -> None:
    backend = resultstore.connect(
        f"cosmosdbsql://:czNjcmV0@127.0.0.2:{untrusted_tls_port}",
        {"cosmosdbsql_scheme": "https",
         "result_backend_always_retry": True, "result_backend_max_retries": 20})
    try:
        started = time.monotonic()
        with pytest.raises(BackendGetMetaError) as info:
            backend.get_task_meta("t")
        assert time.monotonic() - started < 5  # not 20 retries with back-off
        message = str(info.value)
        assert "TLS certificate verification failed" in message
        assert "cosmosdbsql_verify" in message and "czNjcmV0" not in message
    finally:
        backend.close()
