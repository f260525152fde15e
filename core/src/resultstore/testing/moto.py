"""moto's server, one request at a time: ``python -m resultstore.testing.moto HOST PORT``.

moto keeps its emulated services in plain Python objects without locks, so two requests
served on two threads race inside moto: concurrent ``UpdateItem ADD`` calls return the same
count, two conditional puts (``IfNoneMatch="*"``) both succeed.  DynamoDB and S3 make each
single-item operation atomic, and our exactly-once tests depend on that.  Serving requests
one at a time (keep-alive connections still on their own threads) gives moto the atomicity of
the services it stands in for; the price is no server-side parallelism, which tests don't need.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def moto_argv(host: str = "127.0.0.1", port: str = "{port}") -> list[str]:
    """The ``ServerProcess`` argv of a serialized moto server (``{port}`` substituted there)."""
    return [sys.executable, "-m", "resultstore.testing.moto", host, port]


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """A WSGI app that runs ``app`` (and drains its response) under one lock."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serve


def main(argv: Sequence[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import (  # type: ignore[import-not-found,unused-ignore]
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple  # type: ignore[import-not-found,unused-ignore]

    host, port = argv or sys.argv[1:3]
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, int(port), serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
