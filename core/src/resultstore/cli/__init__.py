"""resultstore: inspect, check, read, watch, clean up and benchmark result backends.

::

    resultstore backends                      # installed backends and what Celery loads
    resultstore check redis://:pw@host/0      # write/read/delete probe; exit 1 when unhealthy
    resultstore get file:///var/results ID    # one result
    resultstore watch URL ID [ID...]          # live states until ready
    resultstore forget URL ID [ID...]
    resultstore cleanup URL                   # expired results (stores without native TTL)
    resultstore ls URL                        # stored results (stores that can scan)
    resultstore bench URL                     # store / get / join ops/s, measured

Every command takes ``--json`` for scripts.  Passwords in URLs are masked in
all output, errors included.  Exit codes: 0 ok, 1 failure (unhealthy, a task
failed), 2 usage or configuration error, 3 timeout.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..backend import ResultBackend
from ..connect import connect
from ..errors import ImproperlyConfigured, ResultStoreError
from ..masking import mask_url, settings_secrets, url_secrets
from ..registry import default_registry
from .commands import EXIT_FAILED, EXIT_USAGE
from .output import Output

__all__ = ["main", "build_parser"]


def _setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document instead of tables")
    with_url = argparse.ArgumentParser(add_help=False, parents=[common])
    with_url.add_argument("url", help="result backend URL, e.g. file:///var/results or redis://host/0")
    with_url.add_argument("-s", "--setting", action="append", type=_setting, default=[],
                          metavar="NAME=VALUE", help="a Celery result setting (JSON value), repeatable")

    parser = argparse.ArgumentParser(prog="resultstore", description=__doc__.split("\n\n")[0],
                                     parents=[common])
    parser.add_argument("--version", action="version", version=f"resultstore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("backends", parents=[common], help="installed backends, capabilities, import errors")
    check = sub.add_parser("check", parents=[with_url], help="probe write/read/delete and latency")
    check.add_argument("--rounds", type=int, default=5, help="probes to time (default 5)")
    get = sub.add_parser("get", parents=[with_url], help="show stored results")
    get.add_argument("task_ids", nargs="+", metavar="ID")
    watch = sub.add_parser("watch", parents=[with_url], help="follow tasks until they are ready")
    watch.add_argument("task_ids", nargs="+", metavar="ID")
    watch.add_argument("--timeout", type=float, default=None, help="give up after seconds (exit 3)")
    watch.add_argument("--interval", type=float, default=0.5, help="poll interval without push")
    forget = sub.add_parser("forget", parents=[with_url], help="delete stored results")
    forget.add_argument("task_ids", nargs="+", metavar="ID")
    sub.add_parser("cleanup", parents=[with_url], help="delete expired results")
    ls = sub.add_parser("ls", parents=[with_url], help="list stored results (needs scan)")
    ls.add_argument("--limit", type=int, default=None, help="show at most this many")
    bench = sub.add_parser("bench", parents=[with_url], help="measure store/get/join throughput")
    bench.add_argument("-n", "--count", type=int, default=1000, help="results (default 1000)")
    bench.add_argument("--size", type=int, default=100, help="result size in bytes (default 100)")
    bench.add_argument("--batch", type=int, default=100, help="ids per join (default 100)")
    return parser


def _run(args: argparse.Namespace, out: Output) -> int:
    from . import bench, commands, inventory

    if args.command == "backends":
        return inventory.show_backends(out, default_registry)
    backend: ResultBackend = connect(args.url, **dict(args.setting))
    try:
        if args.command == "check":
            return commands.check(out, backend, args.rounds)
        if args.command == "get":
            return commands.get(out, backend, args.task_ids)
        if args.command == "watch":
            return commands.watch(out, backend, args.task_ids, args.timeout, args.interval)
        if args.command == "forget":
            return commands.forget(out, backend, args.task_ids)
        if args.command == "cleanup":
            return commands.cleanup(out, backend)
        if args.command == "ls":
            return commands.ls(out, backend, args.limit)
        return bench.bench(out, backend, args.count, args.size, args.batch)
    finally:
        backend.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resultstore`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    url = getattr(args, "url", "")
    secrets = url_secrets(url) | settings_secrets(dict(getattr(args, "setting", [])))
    out = Output(json_mode=getattr(args, "json", False), secrets=secrets)
    try:
        return _run(args, out)
    except ImproperlyConfigured as exc:
        out.error(f"{mask_url(url)}: {exc}" if url else str(exc))
        return EXIT_USAGE
    except (ResultStoreError, OSError) as exc:
        out.error(f"{mask_url(url)}: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
