"""URL and settings parsing, secrets, retry predicate; real servers where it matters."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import redis.exceptions
from redis_servers import Deployment, start_redis

import resultstore
from resultstore.config import Settings
from resultstore.errors import BackendStoreError, ImproperlyConfigured
from resultstore.registry import default_registry
from resultstore_redis import RedisStore, parse_options
from resultstore_redis.host import RedisBackend, RedisClusterBackend, SentinelBackend


class StaticCredentials(redis.CredentialProvider):
    """A credential provider importable by path (``redis_backend_credential_provider``)."""

    def get_credentials(self) -> tuple[str, str]:
        return ("default", "s3cret")


def opts(url: str, **settings: Any) -> Any:
    return parse_options(url, resultstore.Settings(**settings))


# -- parsing ------------------------------------------------------------------------
def test_settings_give_defaults_and_url_overrides() -> None:
    settings = {"redis_host": "h1", "redis_port": 7000, "redis_db": 3, "redis_password": "pw",
                "redis_socket_timeout": 9, "redis_socket_connect_timeout": 2,
                "redis_client_name": "me", "redis_backend_health_check_interval": 15,
                "redis_socket_keepalive": True, "redis_username": "u", "redis_max_connections": 7}
    bare = opts("redis://", **settings)
    assert {k: bare.params[k] for k in ("host", "port", "db", "password", "username",
                                        "socket_timeout", "socket_connect_timeout", "client_name",
                                        "health_check_interval", "socket_keepalive")} == {
        "host": "h1", "port": 7000, "db": 3, "password": "pw", "username": "u",
        "socket_timeout": 9.0, "socket_connect_timeout": 2.0, "client_name": "me",
        "health_check_interval": 15, "socket_keepalive": True}
    assert bare.max_connections == 7
    given = opts("redis://other:7001/5?socket_timeout=1.5&max_connections=3", **settings)
    assert (given.params["host"], given.params["port"], given.params["db"]) == ("other", 7001, 5)
    assert given.params["socket_timeout"] == 1.5 and given.max_connections == 3


def test_celery_default_socket_timeout() -> None:
    assert opts("redis://h").params["socket_timeout"] == 120.0


def test_passwords_are_masked() -> None:
    cases = {
        "redis://:hunter2@h:6380/2": "redis://:**@h:6380/2",
        "redis://user:hunter2@h/0": "redis://user:**@h/0",
        "rediss://:p%40ss@h:6380/0?ssl_cert_reqs=none": "rediss://:**@h:6380/0?ssl_cert_reqs=none",
        "sentinel://:a@h1:1;sentinel://:b@h2:2": "sentinel://:**@h1:1;sentinel://:**@h2:2",
    }
    for url, masked in cases.items():
        settings = {"result_backend_transport_options": {"master_name": "m"}}
        store = RedisStore(opts(url, **settings))
        assert store.as_uri() == masked
        assert store.as_uri(include_password=True) == url
        assert "hunter2" not in repr(store)
        store.close()
    bare = RedisStore(opts("redis://", redis_password="hunter2", redis_host="h"))
    assert bare.as_uri() == "redis://:**@h:6379/0"
    bare.close()


def test_tls_options() -> None:
    assert opts("rediss://h/0").params["ssl_cert_reqs"] == ssl.CERT_REQUIRED  # secure default
    for value, expected in (("CERT_NONE", ssl.CERT_NONE), ("optional", ssl.CERT_OPTIONAL),
                            ("required", ssl.CERT_REQUIRED)):
        options = opts(f"rediss://h/0?ssl_cert_reqs={value}&ssl_ca_certs=%2Ftmp%2Fca.pem")
        assert options.ssl and options.params["ssl_cert_reqs"] == expected
        assert options.params["ssl_ca_certs"] == "/tmp/ca.pem"
    with pytest.raises(ImproperlyConfigured, match="ssl_cert_reqs"):
        opts("rediss://h/0?ssl_cert_reqs=maybe")
    with pytest.raises(ImproperlyConfigured, match="rediss://"):
        opts("redis://h/0?ssl_cert_reqs=required")
    via_setting = opts("redis://h/0", redis_backend_use_ssl={"ssl_cert_reqs": ssl.CERT_NONE})
    assert via_setting.ssl and via_setting.params["ssl_cert_reqs"] == ssl.CERT_NONE


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="no_such_option"):
        opts("redis://h/0?no_such_option=1")
    with pytest.raises(ImproperlyConfigured, match="database"):
        opts("redis://h/zero")
    with pytest.raises(ImproperlyConfigured) as port_error:
        opts("redis://:hunter2@h:notaport/0")
    assert "hunter2" not in str(port_error.value)
    with pytest.raises(ImproperlyConfigured, match="master_name"):
        opts("sentinel://h:26379")
    with pytest.raises(ImproperlyConfigured, match="database 0"):
        opts("rediscluster://h:7000/2")
    with pytest.raises(ImproperlyConfigured, match="CredentialProvider"):
        opts("redis://h", redis_backend_credential_provider="builtins:object")
    with pytest.raises(ImproperlyConfigured, match="serves"):
        opts("memcached://h")


def test_sentinel_and_cluster_hosts() -> None:
    transport = {"master_name": "mymaster", "sentinel_kwargs": {"password": "sp"},
                 "min_other_sentinels": 1}
    sentinel = opts("sentinel://:pw@h1:26379/2;sentinel://h2:26380/2",
                    result_backend_transport_options=transport)
    assert sentinel.hosts == [("h1", 26379), ("h2", 26380)]
    assert (sentinel.master_name, sentinel.sentinel_kwargs, sentinel.min_other_sentinels) == (
        "mymaster", {"password": "sp"}, 1)
    assert sentinel.params["db"] == 2 and sentinel.params["password"] == "pw"
    cluster = opts("rediscluster://h1:7000;rediscluster://h2:7001")
    assert cluster.kind == "cluster" and cluster.hosts == [("h1", 7000), ("h2", 7001)]


def test_compound_schemes_reach_the_redis_entry_point() -> None:
    """Celery and resultstore split ``redis+cluster://`` into alias ``redis`` + ``cluster://``."""
    store_cls, url = default_registry.resolve("redis+cluster://h:7000")
    assert store_cls is RedisStore and url == "cluster://h:7000"
    assert opts(url).kind == "cluster"
    store_cls, url = default_registry.resolve("redis+socket:///tmp/r.sock?virtual_host=3")
    socket_options = opts(url)
    assert socket_options.unix_path == "/tmp/r.sock" and socket_options.params["db"] == 3
    for scheme in ("redis", "rediss", "sentinel", "rediscluster"):
        assert default_registry.resolve(f"{scheme}://h:1")[0] is RedisStore
    assert {RedisBackend.resultstore_store, SentinelBackend.resultstore_store,
            RedisClusterBackend.resultstore_store} == {RedisStore}


def test_retry_predicate_and_policy() -> None:
    store = RedisStore(opts("redis://h", result_backend_transport_options={
        "additional_connection_errors": ["builtins.LookupError"], "retry_policy": {"max_retries": 4}}))
    assert store.options.retries == 4
    assert store.exception_safe_to_retry(redis.exceptions.ConnectionError("down"))
    assert store.exception_safe_to_retry(redis.exceptions.TimeoutError("slow"))
    assert store.exception_safe_to_retry(redis.exceptions.BusyLoadingError("loading"))
    assert store.exception_safe_to_retry(KeyError("extra"))  # additional_connection_errors
    assert not store.exception_safe_to_retry(redis.exceptions.AuthenticationError("bad password"))
    assert not store.exception_safe_to_retry(redis.exceptions.ResponseError("WRONGTYPE"))
    assert not store.exception_safe_to_retry(ValueError("bug"))
    store.close()


def test_unreachable_cluster_is_transient_and_lazy() -> None:
    backend = resultstore.connect("rediscluster://127.0.0.1:1")  # builds without connecting
    with pytest.raises(BackendStoreError, match="result_backend_always_retry"):
        backend.mark_as_done("x", 1)
    backend.close()


def test_chord_ordering_option() -> None:
    assert opts("redis://h").chord_ordered is True
    assert opts("redis://h", result_backend_transport_options={
        "result_chord_ordered": False}).chord_ordered is False


# -- against real servers ------------------------------------------------------------
@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    workdir = tmp_path_factory.mktemp("redis-auth")
    server = start_redis(workdir, "--requirepass", "s3cret", "--unixsocket",
                         str(workdir / "r.sock"), "--unixsocketperm", "700", password="s3cret")
    yield server.port
    server.stop()


def test_credential_provider_path(secured: int) -> None:
    backend = resultstore.connect(
        f"redis://127.0.0.1:{secured}/0",
        redis_backend_credential_provider=f"{__name__}:StaticCredentials")
    backend.mark_as_done("cred", 1)
    assert backend.get_task_meta("cred")["result"] == 1
    backend.close()


def test_wrong_password_fails_fast_and_stays_secret(secured: int) -> None:
    backend = resultstore.connect(f"redis://:wrong-hunter2@127.0.0.1:{secured}/0",
                                  result_backend_always_retry=True)
    with pytest.raises(BackendStoreError) as error:
        backend.mark_as_done("x", 1)  # not transient: no retry loop despite always_retry
    assert "hunter2" not in str(error.value)
    assert "AuthenticationError" in str(error.value)
    backend.close()


def test_unix_socket_and_client_name(secured: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    sock = next(Path(tmp_path_factory.getbasetemp()).glob("redis-auth*/r.sock"))
    backend = resultstore.connect(f"redis+socket://{sock}?virtual_host=1",
                                  redis_password="s3cret", redis_client_name="rs-sock-test")
    task_id = f"s-{uuid.uuid4()}"
    backend.mark_as_done(task_id, "via socket")
    raw = redis.Redis(port=secured, password="s3cret", db=1)
    assert raw.exists(f"celery-task-meta-{task_id}")
    assert any(c["name"] == "rs-sock-test" for c in raw.client_list())
    raw.close()
    backend.close()


def test_max_connections_is_enforced(redis_plain: Deployment) -> None:
    backend = redis_plain.connect(redis_max_connections=2)
    assert isinstance(backend.store, RedisStore)
    assert backend.store.client.connection_pool.max_connections == 2
    backend.close()


def test_value_too_large_is_refused_before_sending(redis_plain: Deployment,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import resultstore_redis.store as store_module

    monkeypatch.setattr(store_module, "MAX_VALUE_SIZE", 100)
    backend = redis_plain.connect()
    with pytest.raises(BackendStoreError, match="at most"):
        backend.mark_as_done("big", "x" * 200)
    backend.close()


def test_global_keyprefix_is_shared_with_celery(redis_plain: Deployment) -> None:
    from celery import Celery
    from celery.backends.redis import RedisBackend as CeleryRedisBackend

    options = {"global_keyprefix": "myapp"}
    app = Celery("prefix", set_as_current=False)
    app.conf.result_backend_transport_options = options
    theirs = CeleryRedisBackend(app=app, url=redis_plain.url)
    ours = redis_plain.connect(result_backend_transport_options=options)
    ours.mark_as_done("p-1", "prefixed")
    raw = redis.Redis(port=redis_plain.servers[0].port)
    assert raw.exists("myapp_celery-task-meta-p-1")
    assert theirs.get_task_meta("p-1")["result"] == "prefixed"
    raw.close()
    ours.close()


def test_options_repr_holds_no_password() -> None:
    """Issue 14, item 11: ``repr(RedisOptions)`` showed the password and the full URL."""
    secret = "QX7;p@ss/w#rd?"
    enc = quote(secret, safe="")
    for url in (f"redis://user:{enc}@h:6379/0", f"sentinel://:{enc}@h1:1;sentinel://:{enc}@h2:2"):
        options = parse_options(url, Settings(
            result_backend_transport_options={"master_name": "m",
                                              "sentinel_kwargs": {"password": secret}}))
        assert "QX7" not in repr(options) and options.masked_url in repr(options)


def test_password_that_needs_encoding_is_refused_masked() -> None:
    with pytest.raises(ImproperlyConfigured, match="percent-encode") as refused:
        parse_options("redis://:QX7a#QX7b@h:6379/0")
    assert "QX7" not in str(refused.value)
