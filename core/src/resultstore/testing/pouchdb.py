"""pouchdb-server (npm ``pouchdb-server@4``): CouchDB's HTTP API for tests, in memory, on a free port.

``nox`` installs it into ``.nox/npm`` (``NPM_SERVERS`` in the noxfile) and puts its ``bin`` on
``PATH``; run from the repository root without nox, ``.nox/npm/node_modules/.bin`` is used::

    with pouchdb_server(tmp_path, admin_password="pw") as url:   # couchdb://admin:pw@127.0.0.1:PORT
        backend = resultstore.connect(url + "/results")
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .servers import ServerProcess

__all__ = ["pouchdb_binary", "pouchdb_server", "ADMIN"]

#: The admin user created when a password is given.
ADMIN = "admin"


def pouchdb_binary() -> str:
    """``pouchdb-server`` on ``PATH``, else the one ``nox`` installed under ``./.nox/npm``."""
    return shutil.which("pouchdb-server") or str(
        Path.cwd() / ".nox" / "npm" / "node_modules" / ".bin" / "pouchdb-server")


def _ready(admin_password: str | None) -> Callable[[ServerProcess], bool]:
    def ready(server: ServerProcess) -> bool:
        base = f"http://127.0.0.1:{server.port}"
        try:
            with urllib.request.urlopen(base + "/", timeout=1):
                pass
            if admin_password is not None:  # CouchDB 3 has no "admin party": neither do we
                request = urllib.request.Request(f"{base}/_config/admins/{ADMIN}", method="PUT",
                                                 data=json.dumps(admin_password).encode())
                with urllib.request.urlopen(request, timeout=5):
                    pass
            return True
        except (urllib.error.URLError, OSError):
            return False

    return ready


@contextmanager
def pouchdb_server(workdir: Path, admin_password: str | None = None) -> Iterator[str]:
    """Yield ``couchdb://[admin:<password>@]127.0.0.1:<port>`` (no database) until the block ends.

    With ``admin_password`` the server gets the admin ``admin``: then send credentials with
    every request (pouchdb-server 4.2 crashes on an anonymous database creation once an
    admin exists).
    """
    argv = [pouchdb_binary(), "--in-memory", "--host", "127.0.0.1", "--port", "{port}"]
    with ServerProcess(argv, workdir=workdir, ready=_ready(admin_password)) as server:
        auth = f"{ADMIN}:{admin_password}@" if admin_password is not None else ""
        yield f"couchdb://{auth}127.0.0.1:{server.port}"
