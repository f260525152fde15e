"""Discovery through real entry points of real (throwaway) installed distributions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import resultstore
from resultstore.errors import BackendConflict, ImproperlyConfigured, PluginImportError, UnknownBackend
from resultstore.registry import Registry, split_url
from resultstore.stores import MemoryStore

STORE_MODULE = '''
from resultstore.stores.memory import MemoryStore

class {cls}(MemoryStore):
    """A third-party store."""

class {cls}CeleryBackend:
    resultstore_store = {cls}
'''


def _install(tmp: Path, site: Path, dist: str, module: str, body: str, entry_points: dict[str, str]) -> None:
    src = tmp / dist
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text(body)
    eps = "\n".join(f'{name} = "{target}"' for name, target in entry_points.items())
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{dist}"
        version = "1.2.3"
        [project.entry-points."celery.result_backends"]
        """) + eps + f'\n[tool.hatch.build.targets.wheel]\npackages = ["{module}"]\n')
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("dists")
    site = tmp / "site"
    _install(tmp, site, "acme-results", "acme_results",
             STORE_MODULE.format(cls="AcmeStore"),
             {"acme": "acme_results:AcmeStoreCeleryBackend", "dupe": "acme_results:AcmeStore"})
    _install(tmp, site, "other-results", "other_results",
             STORE_MODULE.format(cls="OtherStore"), {"dupe": "other_results:OtherStore"})
    _install(tmp, site, "broken-results", "broken_results",
             "raise ImportError('libbroken.so: cannot open shared object file')",
             {"broken": "broken_results:Store"})
    _install(tmp, site, "foreign-results", "foreign_results",
             "class CeleryOnlyBackend:\n    pass\n", {"foreign": "foreign_results:CeleryOnlyBackend"})
    sys.path.insert(0, str(site))
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.split(".")[0] in
                 {"acme_results", "other_results", "broken_results", "foreign_results"}]:
        del sys.modules[name]


def test_entry_point_resolves_by_scheme(site: Path) -> None:
    registry = Registry()
    store_cls, url = registry.resolve("acme://somewhere/x")
    assert store_cls.__name__ == "AcmeStore" and url == "acme://somewhere/x"
    entry = registry.entry_for("acme")
    assert (entry.distribution, entry.version, entry.origin) == ("acme-results", "1.2.3", "entry-point")
    backend = resultstore.connect("acme://ns", registry=registry)
    backend.mark_as_done("t", 1)
    assert backend.get_task_meta("t")["result"] == 1


def test_unknown_scheme_lists_installed_and_names_plugin(site: Path) -> None:
    with pytest.raises(UnknownBackend) as info:
        Registry().resolve("nosuch://x")
    message = str(info.value)
    assert "pip install resultstore-nosuch" in message
    assert "acme" in message and "memory" in message


def test_conflict_names_both_distributions(site: Path) -> None:
    with pytest.raises(BackendConflict) as info:
        Registry().resolve("dupe://x")
    assert "acme-results" in str(info.value) and "other-results" in str(info.value)
    assert "override_backends" in str(info.value)
    store_cls, _ = Registry().resolve("dupe://x", {"dupe": "other_results:OtherStore"})
    assert store_cls.__name__ == "OtherStore"


def test_broken_plugin_reports_and_others_work(site: Path) -> None:
    registry = Registry()
    with pytest.raises(PluginImportError) as info:
        registry.resolve("broken://x")
    assert "libbroken.so" in str(info.value) and "broken-results" in str(info.value)
    assert registry.resolve("acme://x")[0].__name__ == "AcmeStore"


def test_foreign_entry_point_is_reported_not_crashed(site: Path) -> None:
    registry = Registry()
    assert "foreign" in registry.entries()
    with pytest.raises(ImproperlyConfigured, match="not a resultstore backend"):
        registry.resolve("foreign://x")


def test_precedence_override_beats_entry_point_beats_builtin(site: Path) -> None:
    registry = Registry()
    assert registry.resolve("memory://x")[0] is MemoryStore
    assert registry.resolve("acme://x", {"acme": MemoryStore})[0] is MemoryStore
    assert registry.resolve("memory://x", {"memory": "acme_results:AcmeStore"})[0].__name__ == "AcmeStore"


def test_module_class_paths_and_compound_urls() -> None:
    registry = Registry()
    assert registry.resolve("resultstore.stores.memory:MemoryStore")[0] is MemoryStore
    assert split_url("cache+memcached://h:11211/") == ("cache", "memcached://h:11211/")
    assert split_url("db+postgresql://u@h/db") == ("db", "postgresql://u@h/db")
    assert split_url("redis://h:1/0") == ("redis", "redis://h:1/0")
    with pytest.raises(ImproperlyConfigured):
        split_url("no-scheme-here")
