"""Does a host class offer Celery's whole public backend surface, on resultstore's code?

A plugin's test calls :func:`check_celery_surface` with an instance of its
host class, an instance of the Celery backend class it replaces, and its
README::

    def test_celery_surface(tmp_path):
        app = Celery(set_as_current=False)
        ours = FileBackend(app=app, url=f"file://{tmp_path}")
        theirs = FilesystemBackend(app=app, url=f"file://{tmp_path}")
        check_celery_surface(ours, theirs, Path(__file__).parents[1] / "README.md")

Every public name of Celery's instance must be provided by resultstore code
(an instance attribute, or a class outside the ``celery``/``kombu`` packages:
inheriting Celery's classes must never route an operation through Celery's
code), and every name the host declares a :class:`~resultstore.celery.surface.CeleryDifference`
must be named (as ```name```) in the README's "Differences from Celery" section.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["check_celery_surface", "surface_problems", "plugin_readme"]

_CELERY_PACKAGES = ("celery", "kombu", "vine", "billiard")


def _owner(obj: Any, name: str) -> Any:
    if name in getattr(obj, "__dict__", {}):
        return "instance"
    return next((k for k in type(obj).__mro__ if name in vars(k)), None)


def _is_celerys(owner: Any) -> bool:
    return isinstance(owner, type) and owner.__module__.split(".")[0] in _CELERY_PACKAGES


def differences_section(readme: Path) -> str:
    """The text of the README's "Differences from Celery" part (up to the next heading)."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(r"Differences from Celery.*?(?=\n#+ |\Z)", text, re.S | re.I)
    return match.group(0) if match else ""


def surface_problems(ours: Any, theirs: Any, readme: Path) -> list[str]:
    """Every way ``ours`` falls short of ``theirs``' public surface (empty: none)."""
    from ..celery.surface import CeleryDifference

    documented = differences_section(readme)
    problems = []
    names = {n for n in dir(theirs) if not n.startswith("_")}
    for name in sorted(names):
        owner = _owner(ours, name)
        if owner is None:
            problems.append(f"{name}: missing")
        elif _is_celerys(owner):
            problems.append(f"{name}: inherited from Celery's {owner.__qualname__} "
                            f"(would run Celery's code)")
        elif (isinstance(vars(owner).get(name) if owner != "instance" else None,
                         CeleryDifference) and f"`{name}`" not in documented):
            problems.append(f"{name}: a CeleryDifference not listed in {readme.name}'s "
                            f"Differences from Celery")
    return problems


def plugin_readme(host_class: type) -> Path:
    """``plugins/<name>/README.md`` of a host class in ``plugins/<name>/src/<package>/``."""
    import sys

    module_file = sys.modules[host_class.__module__].__file__
    assert module_file is not None
    return Path(module_file).resolve().parents[2] / "README.md"


def check_celery_surface(ours: Any, theirs: Any, readme: Path | None = None) -> None:
    """Assert that ``ours`` covers every public name of ``theirs`` (see the module docstring)."""
    problems = surface_problems(ours, theirs, readme or plugin_readme(type(ours)))
    assert not problems, (f"{type(ours).__name__} vs Celery's {type(theirs).__name__}:\n  "
                          + "\n  ".join(problems))
