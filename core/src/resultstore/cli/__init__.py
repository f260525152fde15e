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
    resultstore migrate SRC DST               # copy every result and group, resumable, verified

Every command takes ``--json`` for scripts (errors too: one JSON object on
stdout).  ``-A proj`` reads the URL and every setting (``global_keyprefix``...)
from a Celery app, as ``celery -A proj``; ``-s NAME=VALUE`` sets one setting.
Passwords are masked in all output, errors included.  Never a traceback; exit
codes: 0 ok, 1 failure (store error, unhealthy, a task failed), 2 usage or
configuration error, 3 timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from .. import __version__
from ..backend import ResultBackend
from ..connect import connect
from ..errors import ImproperlyConfigured
from ..masking import mask_url, settings_secrets, url_secrets
from ..registry import default_registry
from .commands import EXIT_FAILED, EXIT_USAGE
from .output import Output

__all__ = ["main", "build_parser"]


class UsageError(Exception):
    """A command line argparse refused (exit 2, reported like every other error)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _at_least(minimum: float, kind: type = int) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


_POSITIVE, _NATURAL, _SECONDS = _at_least(1), _at_least(0), _at_least(0.001, float)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document instead of tables")
    common.add_argument("-A", "--app", default=argparse.SUPPRESS, metavar="APP",
                        help="a Celery app (as celery -A): its result_backend and settings")
    with_url = _Parser(add_help=False, parents=[common])
    with_url.add_argument("url", nargs="?", default=None,
                          help="result backend URL, e.g. file:///var/results or redis://host/0 "
                               "(default with -A: the app's result_backend)")
    with_url.add_argument("-s", "--setting", action="append", type=_setting, default=[],
                          metavar="NAME=VALUE", help="a Celery result setting (JSON value), repeatable")

    parser = _Parser(prog="resultstore", description=__doc__.split("\n\n")[0], parents=[common])
    parser.add_argument("--version", action="version", version=f"resultstore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("backends", parents=[common], help="installed backends, capabilities, import errors")
    check = sub.add_parser("check", parents=[with_url], help="probe write/read/delete and latency")
    check.add_argument("--rounds", type=_POSITIVE, default=5, help="probes to time (default 5)")
    get = sub.add_parser("get", parents=[with_url], help="show stored results")
    get.add_argument("task_ids", nargs="+", metavar="ID")
    watch = sub.add_parser("watch", parents=[with_url], help="follow tasks until they are ready")
    watch.add_argument("task_ids", nargs="+", metavar="ID")
    watch.add_argument("--timeout", type=_SECONDS, default=None, help="give up after seconds (exit 3)")
    watch.add_argument("--interval", type=_SECONDS, default=0.5, help="poll interval without push")
    forget = sub.add_parser("forget", parents=[with_url], help="delete stored results")
    forget.add_argument("task_ids", nargs="+", metavar="ID")
    sub.add_parser("cleanup", parents=[with_url], help="delete expired results")
    ls = sub.add_parser("ls", parents=[with_url], help="list stored results (needs scan)")
    ls.add_argument("--limit", type=_POSITIVE, default=None, help="show the oldest N (by date done)")
    migrate = sub.add_parser("migrate", parents=[common],
                             help="copy every result and group from SRC to DST, then verify")
    migrate.add_argument("src", metavar="SRC", help="source backend URL (must be able to list)")
    migrate.add_argument("dst", metavar="DST", help="destination backend URL")
    migrate.add_argument("-s", "--setting", action="append", type=_setting, default=[],
                         metavar="NAME=VALUE", help="a setting for both sides (JSON value)")
    migrate.add_argument("--batch", type=_POSITIVE, default=500, help="records per read (default 500)")
    migrate.add_argument("--workers", type=_POSITIVE, default=8,
                         help="concurrent writes (default 8)")
    migrate.add_argument("--dry-run", action="store_true", help="count what would be copied")
    migrate.add_argument("--no-verify", dest="verify", action="store_false",
                         help="skip the verify pass (counts and digests of both sides)")
    bench = sub.add_parser("bench", parents=[with_url], help="measure store/get/join throughput")
    bench.add_argument("-n", "--count", type=_POSITIVE, default=1000, help="results (default 1000)")
    bench.add_argument("--size", type=_NATURAL, default=100, help="result size in bytes (default 100)")
    bench.add_argument("--batch", type=_POSITIVE, default=100, help="ids per join (default 100)")
    return parser


def _celery_app(name: str) -> Any:
    """The Celery app ``name`` names, found as ``celery -A`` finds it (current directory first)."""
    try:
        from celery.app.utils import find_app
    except ImportError:
        raise ImproperlyConfigured("-A/--app needs Celery installed (pip install celery).") from None
    sys.path.insert(0, os.getcwd())
    try:
        return find_app(name)
    except Exception as exc:  # noqa: BLE001 - import errors and the app module's own
        raise ImproperlyConfigured(f"cannot load the Celery app {name!r}: "
                                   f"{type(exc).__name__}: {exc}") from None


def _target(args: argparse.Namespace) -> tuple[str, Mapping[str, Any] | None]:
    """The URL and the settings mapping (a Celery app's ``conf`` with ``-A``)."""
    url, conf = args.url, None
    app_name = getattr(args, "app", None)
    if app_name:
        conf = _celery_app(app_name).conf
        ids = getattr(args, "task_ids", None)
        if url is not None and "://" not in url and ids is not None:
            args.task_ids, url = [url, *ids], None  # `-A proj get ID...`: no URL given
        url = url or conf.get("result_backend")
        if not url:
            raise ImproperlyConfigured(f"the Celery app {app_name!r} sets no result_backend.")
    if not url:
        raise UsageError(f"resultstore {args.command}: a backend URL (or -A APP) is required")
    return str(url), conf


def _run(args: argparse.Namespace, out: Output) -> int:
    from . import bench, commands, inventory

    if args.command == "backends":
        return inventory.show_backends(out, default_registry)
    if args.command == "migrate":
        return _migrate(args, out)
    url, conf = _target(args)
    out.hide([*url_secrets(url), *(settings_secrets(conf) if conf is not None else ())])
    out.prefix = mask_url(url)
    backend: ResultBackend = connect(url, conf, **dict(args.setting))
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


def _migrate(args: argparse.Namespace, out: Output) -> int:
    from .migrate import migrate

    conf = _celery_app(args.app).conf if getattr(args, "app", None) else None
    if conf is not None:
        out.hide(settings_secrets(conf))
    out.prefix = f"{mask_url(args.src)} -> {mask_url(args.dst)}"
    src = connect(args.src, conf, **dict(args.setting))
    try:
        dst = connect(args.dst, conf, **dict(args.setting))
        try:
            return migrate(out, src, dst, batch=args.batch, workers=args.workers,
                           dry_run=args.dry_run, verify=args.verify)
        finally:
            dst.close()
    finally:
        src.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resultstore`` console script; returns the exit status.

    Never shows a traceback: usage and configuration errors exit 2, store errors 1.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output(json_mode="--json" in argv, secrets=[s for a in argv for s in url_secrets(a)])
    try:
        args = build_parser().parse_args(argv)
        out.json = getattr(args, "json", False)
        out.hide(settings_secrets(dict(getattr(args, "setting", []))))
        return _run(args, out)
    except UsageError as exc:
        out.error(str(exc), EXIT_USAGE)
        return EXIT_USAGE
    except ImproperlyConfigured as exc:
        out.error(f"{out.prefix}: {exc}" if out.prefix else str(exc), EXIT_USAGE)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a store or client library error: never a traceback
        where = f"{out.prefix}: " if out.prefix else ""
        out.error(f"{where}{type(exc).__name__}: {exc}", EXIT_FAILED)
        return EXIT_FAILED
