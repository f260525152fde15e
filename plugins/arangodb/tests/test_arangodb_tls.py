"""A server certificate that does not verify fails at once, naming the setting to fix, through
python-arango and requests against a real TLS listener (self-signed, loopback)."""

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
    with untrusted_tls_listener(tmp_path) as port:
        yield port


def test_untrusted_certificate_is_not_retried(untrusted_tls_port: int) -> None:
    backend = resultstore.connect(
        f"arangodb://app:s3cret@127.0.0.1:{untrusted_tls_port}/d/c",
        {"arangodb_backend_settings": {"http_protocol": "https"},
         "result_backend_always_retry": True, "result_backend_max_retries": 20})
    try:
        started = time.monotonic()
        with pytest.raises(BackendGetMetaError) as info:
            backend.get_task_meta("t")
        assert time.monotonic() - started < 5  # not 20 retries with back-off
        message = str(info.value)
        assert "TLS certificate verification failed" in message
        assert "arangodb_backend_settings['verify']" in message and "s3cret" not in message
    finally:
        backend.close()
