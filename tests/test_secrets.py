"""Nasty passwords never leave in clear: the table of issue 14, items 10 and 11.

Every plugin with credentials is opened with each password below, as written in a
URL, percent-encoded in a URL, or given as a setting; then every output a user or a
log sees is collected: ``repr`` of the backend, of the Celery host class and of the
store's option/config objects, ``as_uri()``, the text of the errors raised by a
failing operation and by a malformed URL, every log record at DEBUG, and the CLI's
text and ``--json`` output.  Each password is built around ``QX7`` tokens placed
between its delimiters, so a *piece* of a password leaking (the part after a ``#``,
say) is caught too.  ``python -m pytest tests/test_secrets.py -s`` prints the table.
"""

from __future__ import annotations

import base64
import logging
import socket
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

import resultstore
from resultstore.cli import main as cli_main
from resultstore.testing.servers import ServerProcess

#: Each holds tokens between the characters that end a URL part (and %, :, space, unicode).
PASSWORDS = {
    "delimiters ; @ / # ?": "QX7a;QX7b@QX7c/QX7d#QX7e?QX7f",
    "% : space": "QX7g%QX7h:QX7i QX7j%2FQX7k",
    "unicode": "QX7lü€✓QX7m",
    "quotes \\": "QX7n'\"\\QX7o",
}
TOKEN = "QX7"
OUTPUTS = ("repr", "as_uri", "config repr", "error str", "bad-URL error", "DEBUG log",
           "CLI text", "CLI --json")
RESULTS: dict[tuple[str, str], dict[str, str]] = {}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Case:
    """How one plugin takes a credential, and what to break to make it raise."""

    name: str
    #: password -> (url, settings) of a store that cannot be reached.
    target: Callable[[str], tuple[str, dict[str, Any]]]
    #: password -> a URL the plugin must refuse (malformed), or None.
    bad_url: Callable[[str], str | None] = lambda _: None
    #: a Celery app setting naming the backend, for the host class.
    celery: bool = True
    #: settings that let the store open without a round trip (blob stores probe at open).
    quiet: dict[str, Any] = field(default_factory=dict)
    #: password -> other strings that must not appear (the secret as this store takes it).
    forms: Callable[[str], list[str]] = lambda _: []


#: A real redis-server whose password is another one (every redis case fails to authenticate),
#: and a real sentinel naming it as master "m".
REDIS_PORT: list[int] = []


@pytest.fixture(scope="module", autouse=True)
def redis_with_another_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    workdir = tmp_path_factory.mktemp("redis-secrets")
    argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", "{workdir}", "--requirepass", "the-right-one"]
    with ServerProcess(argv, workdir) as server:
        conf = workdir / "sentinel.conf"
        conf.write_text(f"port 0\nbind 127.0.0.1\nsentinel monitor m 127.0.0.1 {server.port} 1\n"
                        f"sentinel auth-pass m the-right-one\n")
        with ServerProcess(["redis-sentinel", str(conf), "--port", "{port}"], workdir) as sentinel:
            REDIS_PORT[:] = [server.port, sentinel.port]
            yield


def _redis(pw: str) -> tuple[str, dict[str, Any]]:
    return f"redis://user:{quote(pw, safe='')}@127.0.0.1:{REDIS_PORT[0]}/0", {}


def _sentinel(pw: str) -> tuple[str, dict[str, Any]]:
    enc = quote(pw, safe="")
    return (f"sentinel://:{enc}@127.0.0.1:{REDIS_PORT[1]}/0;sentinel://:{enc}@127.0.0.1:"
            f"{REDIS_PORT[1]}/0", {"result_backend_transport_options": {"master_name": "m"}})


def _cluster(pw: str) -> tuple[str, dict[str, Any]]:
    enc = quote(pw, safe="")
    return (f"rediscluster://:{enc}@127.0.0.1:{REDIS_PORT[0]};rediscluster://:{enc}@127.0.0.1:"
            f"{REDIS_PORT[0]}", {})


def _redis_setting(pw: str) -> tuple[str, dict[str, Any]]:
    return f"redis://127.0.0.1:{REDIS_PORT[0]}/0", {"redis_password": pw}


def _database(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"db+postgresql://user:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results",
            {"database_create_tables_at_setup": False})


def _dynamodb(pw: str) -> tuple[str, dict[str, Any]]:
    return f"dynamodb://AKIDEXAMPLE:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results", {}


def _s3(pw: str) -> tuple[str, dict[str, Any]]:
    return "s3://", {"s3_bucket": "b", "s3_access_key_id": "AKIDEXAMPLE", "s3_secret_access_key": pw,
                     "s3_endpoint_url": f"http://127.0.0.1:{closed_port()}", "s3_region": "us-east-1"}


def _b64(pw: str) -> str:
    """An account key is base64 (its own nasty characters: + / =); the SDK refuses anything else."""
    return base64.b64encode(pw.encode() + b"\xfb\xff").decode()


def _azure(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"azureblockblob://DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={_b64(pw)};"
            f"BlobEndpoint=http://127.0.0.1:{closed_port()}/acct;", {"azureblockblob_retry_max_attempts": 0})


def _rpc(pw: str) -> tuple[str, dict[str, Any]]:
    return "rpc://", {"broker_url": f"amqp://user:{quote(pw, safe='')}@127.0.0.1:{closed_port()}//"}


def _mongodb(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"mongodb://app:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results"
            f"?serverSelectionTimeoutMS=300&connectTimeoutMS=300", {})


def _mongodb_setting(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"mongodb://127.0.0.1:{closed_port()}/results?serverSelectionTimeoutMS=300",
            {"mongodb_backend_settings": {"user": "app", "password": pw}})


def _couchdb(pw: str) -> tuple[str, dict[str, Any]]:
    return f"couchdb://admin:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results", {}


def _consul(pw: str) -> tuple[str, dict[str, Any]]:
    return f"consul://127.0.0.1:{closed_port()}/results", {"consul_token": pw}



def _couchbase(pw: str) -> tuple[str, dict[str, Any]]:
    """The real SDK 4 against a closed port: its bootstrap times out after 0.5 s."""
    return (f"couchbase://app:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results",
            {"couchbase_backend_settings": {"connect_timeout": 0.5}})


def _couchbase_setting(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"couchbase://127.0.0.1:{closed_port()}/results",
            {"couchbase_backend_settings": {"username": "app", "password": pw, "connect_timeout": 0.5}})


def _arangodb(pw: str) -> tuple[str, dict[str, Any]]:
    return f"arangodb://app:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results/celery", {}


def _arangodb_setting(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"arangodb://127.0.0.1:{closed_port()}/results/celery",
            {"arangodb_backend_settings": {"username": "app", "password": pw}})


def _cosmosdbsql(pw: str) -> tuple[str, dict[str, Any]]:
    """The account key is the URL's password (as in Celery)."""
    return f"cosmosdbsql://:{quote(_b64(pw), safe='')}@127.0.0.1:{closed_port()}", {}


def _elasticsearch(pw: str) -> tuple[str, dict[str, Any]]:
    return (f"elasticsearch://app:{quote(pw, safe='')}@127.0.0.1:{closed_port()}/results",
            {"elasticsearch_max_retries": 0, "elasticsearch_timeout": 1})


CASES = [
    Case("redis", _redis, lambda pw: f"redis://:{pw}@127.0.0.1:1/x"),
    Case("redis (redis_password)", _redis_setting),
    Case("sentinel", _sentinel, lambda pw: f"sentinel://:{pw}@127.0.0.1:1;sentinel://:{pw}@h:port"),
    Case("rediscluster", _cluster, lambda pw: f"rediscluster://:{pw}@127.0.0.1:port"),
    Case("database", _database, lambda pw: f"db+postgresql://u:{pw}@127.0.0.1:x/db"),
    Case("dynamodb", _dynamodb, lambda pw: f"dynamodb://AKID:{pw}@127.0.0.1:port/t"),
    Case("s3", _s3, quiet={"s3_conditional_writes": False}),
    Case("azureblockblob", _azure, forms=lambda pw: [_b64(pw)],
         quiet={"azureblockblob_conditional_writes": False}),
    Case("rpc (broker_url)", _rpc),
    Case("mongodb", _mongodb, lambda pw: f"mongodb://app:{pw}@127.0.0.1:port/results"),
    Case("mongodb (mongodb_backend_settings)", _mongodb_setting),
    Case("couchbase", _couchbase, lambda pw: f"couchbase://app:{pw}@127.0.0.1:port/results"),
    Case("couchbase (couchbase_backend_settings)", _couchbase_setting),
    Case("elasticsearch", _elasticsearch, lambda pw: f"elasticsearch://app:{pw}@127.0.0.1:port/results"),
    Case("couchdb", _couchdb, lambda pw: f"couchdb://admin:{pw}@127.0.0.1:port/results"),
    Case("consul (consul_token)", _consul),
    Case("arangodb", _arangodb, lambda pw: f"arangodb://app:{pw}@127.0.0.1:port/results"),
    Case("arangodb (arangodb_backend_settings)", _arangodb_setting),
    Case("cosmosdbsql", _cosmosdbsql, lambda pw: f"cosmosdbsql://:{_b64(pw)}@127.0.0.1:port",
         forms=lambda pw: [_b64(pw)]),
]


def leaks(text: str, forms: list[str]) -> bool:
    return TOKEN in text or any(form in text for form in forms)


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def _errors(exc: BaseException) -> str:
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


def _config_reprs(obj: Any) -> str:
    store = getattr(obj, "store", obj)
    return "\n".join(repr(value) for value in vars(store).values())


def _cli(capsys: pytest.CaptureFixture[str], url: str, settings: dict[str, Any],
         *extra: str) -> str:
    import json

    argv = ["check", url, "--rounds", "1", *extra]
    for key, value in settings.items():
        argv += ["-s", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    cli_main(argv)
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize("label", PASSWORDS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nasty_passwords_are_masked_in_every_output(
        case: Case, label: str, debug_log: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    pw = PASSWORDS[label]
    url, settings = case.target(pw)
    seen: dict[str, str] = {}
    options = {**settings, "result_backend_max_retries": 0}
    with pytest.raises(Exception) as failed:
        broken = resultstore.connect(url, options)
        try:
            broken.mark_as_done("t1", 1)
            broken.get_task_meta("t1", cache=False)
        finally:
            broken.close()
        raise AssertionError("an unreachable store answered")
    assert not isinstance(failed.value, AssertionError), failed.value
    seen["error str"] = _errors(failed.value)
    backend = resultstore.connect(url, {**options, **case.quiet})  # opens without a round trip
    try:
        seen["repr"] = repr(backend)
        seen["as_uri"] = backend.as_uri()
        seen["config repr"] = _config_reprs(backend)
    finally:
        backend.close()
    if case.celery:
        celery = pytest.importorskip("celery")
        app = celery.Celery("secrets", backend=url, set_as_current=False)
        app.conf.update({**settings, **case.quiet})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen["repr"] += "\n" + repr(app.backend) + "\n" + app.backend.as_uri()
    bad = case.bad_url(pw)
    if bad is not None:
        with pytest.raises(resultstore.ImproperlyConfigured) as refused:
            resultstore.connect(bad, settings).close()
        seen["bad-URL error"] = _errors(refused.value)
    seen["CLI text"] = _cli(capsys, url, settings)
    seen["CLI --json"] = _cli(capsys, url, settings, "--json")
    if bad is not None:  # the password as typed, unencoded, in the URL the CLI is given
        seen["CLI text"] += _cli(capsys, bad, settings)
        seen["CLI --json"] += _cli(capsys, bad, settings, "--json")
    seen["DEBUG log"] = "\n".join(
        record.getMessage() + (debug_log.handler.formatter or logging.Formatter()).formatException(
            record.exc_info) if record.exc_info else record.getMessage()
        for record in debug_log.records)
    forms = case.forms(pw)
    RESULTS[(case.name, label)] = {out: ("-" if out not in seen else
                                         "LEAK" if leaks(seen[out], forms) else "masked")
                                   for out in OUTPUTS}
    leaked = {out: text for out, text in seen.items() if leaks(text, forms)}
    assert not leaked, leaked


def test_print_table() -> None:
    """The table of the closing note (run with ``-s``); every cell is ``masked`` or ``-``."""
    if not RESULTS:
        pytest.skip("run together with test_nasty_passwords_are_masked_in_every_output")
    header = "| plugin | password | " + " | ".join(OUTPUTS) + " |"
    lines = [header, "|" + "---|" * (len(OUTPUTS) + 2)]
    for (plugin, label), cells in RESULTS.items():
        lines.append(f"| {plugin} | {label} | " + " | ".join(cells[o] for o in OUTPUTS) + " |")
    print("\n" + "\n".join(lines))
    assert all(cell != "LEAK" for cells in RESULTS.values() for cell in cells.values())
