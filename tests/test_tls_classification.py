"""A TLS certificate that does not verify is never retried, in every plugin that speaks TLS.

Each client library wraps the ``ssl`` failure its own way; each case below
builds the exception exactly as that library raises it (wrapping a real
``ssl.SSLCertVerificationError`` from a handshake with an untrusted server, or
only its text, as drivers that format it do).  The store says the error is
transient (it is a connection error), yet the retry policy gives up at once
and names the store's certificate settings.  ``plugins/redis/tests/test_redis_tls.py``
does the same against a real ``rediss://`` server with a wrong CA.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import pytest

from resultstore.errors import BackendGetMetaError
from resultstore.retry import RetryPolicy
from resultstore.tls import is_certificate_error


@pytest.fixture(scope="module")
def verify_failure() -> Iterator[ssl.SSLCertVerificationError]:
    """The error of a real TLS handshake with a server whose certificate nobody trusts."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:  # a TLS server with no certificate the client's CAs know
        conn, _ = listener.accept()
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*_self_signed())
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError) as caught, \
            socket.create_connection(("127.0.0.1", port)) as raw:
        client.wrap_socket(raw, server_hostname="localhost")
    thread.join(5)
    listener.close()
    yield caught.value


def _self_signed() -> tuple[str, str]:
    import subprocess
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp(prefix="rs-tls-"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", "k.pem", "-out", "c.pem"],
                   cwd=d, check=True, capture_output=True)
    return str(d / "c.pem"), str(d / "k.pem")


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # implicit __context__, as the libraries do
    except BaseException as exc:
        return exc


def _redis(err: ssl.SSLCertVerificationError) -> BaseException:
    import redis

    return _chained(redis.ConnectionError(f"Error 1 connecting to 127.0.0.1:6380. {err}."), err)


def _botocore(err: ssl.SSLCertVerificationError) -> BaseException:
    import botocore.exceptions

    return botocore.exceptions.SSLError(endpoint_url="https://127.0.0.1:9000", error=err)


def _sqlalchemy(err: ssl.SSLCertVerificationError) -> BaseException:
    import sqlalchemy.exc

    driver = Exception('connection to server at "db" failed: SSL error: certificate verify failed')
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, driver)


def _azure(err: ssl.SSLCertVerificationError) -> BaseException:
    import azure.core.exceptions

    return azure.core.exceptions.ServiceRequestError(err, error=err)


def _requests(err: ssl.SSLCertVerificationError) -> BaseException:
    import requests.exceptions

    return requests.exceptions.SSLError(err)


def _httpx(err: ssl.SSLCertVerificationError) -> BaseException:
    import httpx

    return _chained(httpx.ConnectError(str(err)), err)


def _arango(err: ssl.SSLCertVerificationError) -> BaseException:
    import requests.exceptions

    from resultstore_arangodb.store import ArangoTLSError

    cause = requests.exceptions.SSLError(err)
    error = ArangoTLSError(f"TLS with https://127.0.0.1:8529/_api/version failed: {cause}")
    error.__cause__ = cause
    return error


def _amqp(err: ssl.SSLCertVerificationError) -> BaseException:
    return err  # py-amqp lets the ssl error through


CASES: dict[str, tuple[Callable[[ssl.SSLCertVerificationError], BaseException], str, str]] = {
    "redis (redis-py ConnectionError)": (_redis, "resultstore_redis:RedisStore", "ssl_ca_certs"),
    "s3 (botocore SSLError)": (_botocore, "resultstore_s3:S3Store", "AWS_CA_BUNDLE"),
    "dynamodb (botocore SSLError)": (_botocore, "resultstore_dynamodb:DynamoDBStore",
                                     "AWS_CA_BUNDLE"),
    "database (SQLAlchemy OperationalError)": (_sqlalchemy, "resultstore_database:DatabaseStore",
                                               "sslrootcert"),
    "azureblockblob (azure-core ServiceRequestError)": (
        _azure, "resultstore_azureblockblob:AzureBlockBlobStore", "REQUESTS_CA_BUNDLE"),
    "gcs (requests SSLError)": (_requests, "resultstore_gcs:GCSStore", "REQUESTS_CA_BUNDLE"),
    "couchdb (httpx ConnectError)": (_httpx, "resultstore_couchdb:CouchDBStore", "couchdb_ca_certs"),
    "rpc (py-amqp, the ssl error itself)": (_amqp, "resultstore_rpc:RPCStore", "broker_use_ssl"),
    "arangodb (ArangoTLSError from requests SSLError)": (
        _arango, "resultstore_arangodb:ArangoStore", "arangodb_backend_settings['verify']"),
    "cosmosdbsql (azure-core ServiceRequestError)": (
        _azure, "resultstore_cosmosdbsql:CosmosStore", "cosmosdbsql_verify"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_certificate_failures_are_not_retried(case: str,
                                              verify_failure: ssl.SSLCertVerificationError) -> None:
    make, store_path, setting = CASES[case]
    module, _, name = store_path.partition(":")
    store_cls = getattr(pytest.importorskip(module, reason=f"{module} not installed"), name)
    exc = make(verify_failure)
    assert is_certificate_error(exc)
    policy = RetryPolicy(always_retry=True, max_retries=5, base_sleep_ms=1,
                         certificate_settings=store_cls.certificate_settings)
    calls: list[int] = []

    def operation() -> None:
        calls.append(1)
        raise exc  # type: ignore[misc]

    with pytest.raises(BackendGetMetaError) as caught:
        policy.call("get_task_meta", operation, safe=lambda e: True, error=BackendGetMetaError)
    assert calls == [1]
    assert "TLS certificate verification failed, which retrying cannot fix" in str(caught.value)
    assert setting in str(caught.value)


def test_other_connection_errors_stay_transient() -> None:
    refused = _chained(ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
                       ConnectionRefusedError(111, "Connection refused"))
    assert not is_certificate_error(refused)
    assert not is_certificate_error(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version"))
