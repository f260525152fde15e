"""Start real servers for tests: free port, readiness wait, stop by pid.

Plugins' ``conftest.py`` use these in session-scoped fixtures::

    @pytest.fixture(scope="session")
    def redis_url(tmp_path_factory):
        with ServerProcess(["redis-server", "--port", "{port}", "--save", ""],
                           workdir=tmp_path_factory.mktemp("redis")) as server:
            yield f"redis://127.0.0.1:{server.port}/0"

The server binary must be installed (``nox`` installs the Debian packages);
a missing binary fails the test run loudly, never skips it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["free_port", "wait_for_port", "ServerProcess", "real_or_standin"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until ``host:port`` accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


class ServerProcess:
    """A server subprocess in its own process group, stopped (and killed) on exit.

    ``{port}`` and ``{workdir}`` in ``argv`` are substituted.  Readiness is a TCP
    connect to the port unless ``ready`` is given (called until it returns True).
    """

    def __init__(self, argv: Sequence[str], workdir: Path, port: int | None = None,
                 ready: Callable[[ServerProcess], bool] | None = None, timeout: float = 60.0,
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.workdir = Path(workdir)
        self.argv = [a.format(port=self.port, workdir=self.workdir) for a in argv]
        self.ready = ready
        self.timeout = timeout
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / f"{Path(self.argv[0]).name}-{self.port}.log"

    def start(self) -> ServerProcess:
        if shutil.which(self.argv[0]) is None and not Path(self.argv[0]).exists():
            raise RuntimeError(f"{self.argv[0]} is not installed; run the tests through nox, "
                               f"which installs the servers.")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=self.workdir, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            env={**os.environ, **(self.env or {})})
        deadline = time.monotonic() + self.timeout
        try:
            if self.ready is None:
                wait_for_port(self.port, self.timeout)
            else:
                while not self.ready(self):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise TimeoutError(f"{self.argv[0]} did not become ready")
                    time.sleep(0.05)
        except BaseException:  # noqa: BLE001 - stop the process on any failure, then report
            self.stop()
            raise RuntimeError(f"{self.argv[0]} failed to start; log:\n{self.tail()}") from None
        return self

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def restart(self) -> None:
        """Stop and start again on the same port (outage tests)."""
        self.stop()
        self.start()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@contextmanager
def real_or_standin(real_url: str | None, standin: Path, scheme: str,
                    workdir: Path) -> Iterator[str]:
    """``scheme://host:port`` (no path) of the server the tests use.

    With ``real_url`` (a plugin's ``RESULTSTORE_TEST_<NAME>_URL``), its scheme and
    ``[user:password@]host:port``; else ``standin`` (a Python script taking its port as its
    one argument) run with :class:`ServerProcess` on a free loopback port, stopped on exit.
    """
    if real_url:
        parts = urlsplit(real_url)
        yield f"{parts.scheme}://{parts.netloc}"
        return
    with ServerProcess([sys.executable, str(standin), "{port}"], workdir=workdir) as server:
        yield f"{scheme}://127.0.0.1:{server.port}"
