"""Sessions: lint, types, tests (core + every plugin + cross-package), wheels, docs, bench, demo,
slow (tests marked ``slow``, not part of CI's default run).

``nox`` alone runs what CI runs.  Sessions install the servers they need
(apt packages, as root) when they are missing; tests start and stop them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "types", "docs", "wheels", "tests"]
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_external_run = True

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").glob("*") if (p / "pyproject.toml").exists())
DEV = ["pytest>=8", "pytest-asyncio>=0.23", "pytest-timeout", "celery[redis]==5.7.0", "hatchling",
       "python-dateutil", "hypothesis>=6", "cryptography>=42"]
#: Debian packages providing each plugin's real server (binary checked, package installed).
SERVERS = {
    "redis": {"redis-server": "redis-server", "redis-sentinel": "redis-sentinel",
              "redis-cli": "redis-tools", "openssl": "openssl"},
    "cache": {"memcached": "memcached"},
    "database": {"/usr/lib/postgresql/15/bin/postgres": "postgresql-15"},
    "rpc": {"rabbitmq-server": "rabbitmq-server"},
}
#: npm packages providing a plugin's emulator (binary checked, installed under .nox/npm).
NPM_SERVERS = {"azureblockblob": {"azurite-blob": "azurite@3"},
               "couchdb": {"pouchdb-server": "pouchdb-server@4"}}
NPM_PREFIX = ROOT / ".nox" / "npm"


def ensure_apt(session: nox.Session, plugins: list[str]) -> None:
    """Install the Debian packages of the servers these plugins test against."""
    missing = sorted({pkg for p in plugins for binary, pkg in SERVERS.get(p, {}).items()
                      if shutil.which(binary) is None and not Path("/usr/sbin", binary).exists()})
    if not missing:
        return
    if os.geteuid() != 0:
        session.error(f"Missing servers {missing}: run as root or `apt-get install {' '.join(missing)}`.")
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, external=True,
                env={"DEBIAN_FRONTEND": "noninteractive"})


def ensure_npm(session: nox.Session, plugins: list[str]) -> None:
    """Install the npm packages of these plugins' emulators into .nox/npm and put them on PATH."""
    path = os.pathsep.join([str(NPM_PREFIX / "node_modules" / ".bin"), os.environ.get("PATH", "")])
    session.env["PATH"] = path
    missing = sorted({pkg for p in plugins for binary, pkg in NPM_SERVERS.get(p, {}).items()
                      if shutil.which(binary, path=path) is None})
    if missing:
        session.run("npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX), *missing,
                    external=True)


def install_workspace(session: nox.Session, plugins: list[str]) -> None:
    extras = []
    for plugin in plugins:
        dev = ROOT / "plugins" / plugin / "requirements-test.txt"
        if dev.exists():
            extras += ["-r", str(dev)]
    session.install(*DEV, *extras)
    session.install("-e", "core", *[arg for p in plugins for arg in ("-e", f"plugins/{p}")])


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session
def types(session: nox.Session) -> None:
    session.install("mypy>=1.10", "pytest>=8", "types-python-dateutil", "hypothesis>=6",
                    "-e", "core[encryption]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; any warning (broken link, missing page) fails."""
    session.install("mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site"))


@nox.session
def wheels(session: nox.Session) -> None:
    """Every distribution builds a wheel; the core wheel installs and works on its own."""
    session.install("build")
    out = Path(session.create_tmp()) / "dist"
    for path in ["core", *[f"plugins/{p}" for p in PLUGINS]]:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(out), path, silent=True)
    session.install(str(next(out.glob("resultstore-*.whl"))))
    session.run("python", "-c", "import resultstore; b = resultstore.connect('memory://'); "
                "b.mark_as_done('t', 1); assert b.get_task_meta('t')['result'] == 1; print('core wheel ok')")


@nox.session
def tests(session: nox.Session) -> None:
    """Core, every plugin (against real servers) and cross-package tests."""
    ensure_apt(session, PLUGINS)
    ensure_npm(session, PLUGINS)
    install_workspace(session, PLUGINS)
    session.install("fastapi", "httpx")  # tests/test_readme.py runs the README's FastAPI block
    paths = ["core/tests", *[f"plugins/{p}/tests" for p in PLUGINS], "tests"]
    session.run("pytest", *paths, *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Soak and scale tests marked ``slow`` (deselected from ``tests`` by pyproject's addopts)."""
    ensure_apt(session, PLUGINS)
    ensure_npm(session, PLUGINS)
    install_workspace(session, PLUGINS)
    session.install("fastapi", "httpx")  # tests/test_readme.py runs the README's FastAPI block
    paths = ["core/tests", *[f"plugins/{p}/tests" for p in PLUGINS], "tests"]
    session.run("pytest", "-m", "slow", *paths, *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin's tests (``nox -s "plugin(plugin='redis')"``)."""
    ensure_apt(session, [plugin])
    ensure_npm(session, [plugin])
    install_workspace(session, [plugin])
    session.run("pytest", f"plugins/{plugin}/tests", *session.posargs)


@nox.session
def outage(session: nox.Session) -> None:
    """The outage kit at full size on every networked plugin: 1,000 stores and waits, a 3 s outage.

    The default ``tests`` run has the same tests at 200 stores and 1 s; this prints the table.
    """
    ensure_apt(session, PLUGINS)
    ensure_npm(session, PLUGINS)
    install_workspace(session, PLUGINS)
    report = Path(session.create_tmp()) / "outage.jsonl"
    report.unlink(missing_ok=True)
    session.env.update(RESULTSTORE_OUTAGE_OPS="1000", RESULTSTORE_OUTAGE_SECONDS="3",
                       RESULTSTORE_OUTAGE_REPORT=str(report))
    paths = [f"plugins/{p}/tests" for p in PLUGINS
             if any((ROOT / "plugins" / p / "tests").glob("*_outage.py"))]
    try:
        session.run("pytest", *paths, "-k", "Outage", *session.posargs)
    finally:
        session.run("python", "-c", "import sys; from resultstore.testing.outage import print_report; "
                    "print_report(sys.argv[1])", str(report))


@nox.session
def elasticsearch8(session: nox.Session) -> None:
    """resultstore-elasticsearch on elasticsearch-py 8.x (the ``tests`` run uses 9.x)."""
    install_workspace(session, ["elasticsearch"])
    session.install("elasticsearch[async]>=8,<9", "elastic-transport<9")
    session.run("pytest", "plugins/elasticsearch/tests", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Every decode entry point against random hostile payloads: 100,000 cases (not in CI's default)."""
    session.install("-e", "core[testing,encryption]")
    session.run("python", "-m", "resultstore.testing.fuzz", *(session.posargs or ["100000"]))


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: a real Celery worker on the embedded file backend."""
    session.install("-e", "core", "-e", "plugins/file", "celery==5.7.0")
    session.run("python", "docs/examples/demo.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks with ratios against Celery's backends and raw clients (not pass/fail)."""
    ensure_apt(session, PLUGINS)
    ensure_npm(session, PLUGINS)
    install_workspace(session, PLUGINS)
    session.install("matplotlib")
    session.run("python", "-m", "bench", *session.posargs)
