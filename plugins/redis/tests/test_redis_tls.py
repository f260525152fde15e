"""A rediss:// server whose certificate does not verify: not transient, and the error says why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from redis_servers import Deployment

import resultstore
from resultstore.errors import BackendGetMetaError, BackendStoreError


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA that did not sign the server's certificate."""
    d = Path(tmp_path_factory.mktemp("wrong-ca"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=not-the-server-ca", "-keyout", "ca.key", "-out", "ca.crt"],
                   cwd=d, check=True, capture_output=True)
    return str(d / "ca.crt")


def _wrong_ca_url(redis_tls: Deployment, wrong_ca: str) -> str:
    return redis_tls.url.split("&ssl_ca_certs=")[0] + f"&ssl_ca_certs={wrong_ca}"


@pytest.mark.parametrize("always_retry", [False, True])
def test_certificate_failure_is_not_transient(redis_tls: Deployment, wrong_ca: str,
                                              always_retry: bool) -> None:
    retries: list[tuple[object, ...]] = []
    backend = resultstore.connect(_wrong_ca_url(redis_tls, wrong_ca),
                                  result_backend_always_retry=always_retry,
                                  result_backend_max_retries=3,
                                  result_backend_base_sleep_between_retries_ms=1)
    try:
        backend._on_retry = lambda *args: retries.append(args)  # type: ignore[method-assign]
        with pytest.raises(BackendGetMetaError) as read:
            backend.get_task_meta("t-tls")
        with pytest.raises(BackendStoreError) as write:
            backend.mark_as_done("t-tls", 1)
    finally:
        backend.close()
    for exc in (read.value, write.value):
        message = str(exc)
        assert "CERTIFICATE_VERIFY_FAILED" in message
        assert ("TLS certificate verification failed, which retrying cannot fix; check "
                "ssl_ca_certs") in message
        assert "transient" not in message and "gave up" not in message
    assert retries == []  # not retried, even with result_backend_always_retry


def test_certificate_failure_under_celery(redis_tls: Deployment, wrong_ca: str) -> None:
    from celery import Celery
    from celery.exceptions import BackendGetMetaError as CeleryGetMetaError

    from resultstore_redis.host import RedisBackend

    app = Celery("tls", set_as_current=False)
    app.conf.result_backend_always_retry = True
    host = RedisBackend(app=app, url=_wrong_ca_url(redis_tls, wrong_ca))
    with pytest.raises(CeleryGetMetaError) as caught:
        host.get_task_meta("t-tls")
    assert "which retrying cannot fix" in str(caught.value)
    assert not host.exception_safe_to_retry(caught.value.__cause__)
