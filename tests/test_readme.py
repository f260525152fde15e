"""The README claims only what the installed code does: its tables are checked against it."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import pytest

from resultstore.blob import BlobStore
from resultstore.cli.inventory import celery_builtins
from resultstore.registry import default_registry
from resultstore.spec import Capability

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _table(heading: str) -> list[list[str]]:
    section = README.split(heading, 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    end = next((i for i, line in enumerate(section.splitlines()) if line.startswith("## ")), None)
    if end is not None:
        rows = [r for r in rows if r in section.splitlines()[:end]]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _schemes(cell: str) -> list[str]:
    return [m.split("://")[0].split("+")[0] for m in re.findall(r"`([a-z]+[^`]*)`", cell)]


FEATURES = _table("## Backends and what they do natively")


def _declared(alias: str) -> tuple[set[Capability], set[Capability]]:
    """(always declared, declared only when the service honours conditional writes)."""
    store = default_registry.entry_for(alias).load_store()
    if issubclass(store, BlobStore):
        always, conditional = store.declared_capabilities()
        return set(always), set(conditional)
    return set(store.capabilities), set()


def _claims(alias: str, always: set[Capability], conditional: set[Capability], cell: str,
            capability: Capability) -> None:
    if cell == "—":
        assert capability not in always | conditional, (alias, capability)
    elif "if " in cell:
        assert capability in conditional, (alias, capability)
    else:
        assert capability in always, (alias, capability)


@pytest.mark.parametrize("row", FEATURES, ids=[row[0] for row in FEATURES])
def test_feature_table_matches_declared_capabilities(row: list[str]) -> None:
    backend, chords, push, batched, listing, expiry, aio, guarded = row
    for alias in _schemes(backend):
        always, conditional = _declared(alias)
        claims = partial(_claims, alias, always, conditional)
        if chords.startswith("counter"):
            assert Capability.INCR in always and Capability.CHORD not in always | conditional
        else:
            claims(chords, Capability.CHORD)
        claims(push, Capability.SUBSCRIBE)
        claims(batched, Capability.BATCH)
        claims(listing, Capability.SCAN)
        claims("yes" if expiry == "cleanup" else "—", Capability.CLEANUP)
        claims("yes" if aio == "native" else "—", Capability.AIO)
        claims(guarded, Capability.GUARDED_SET)


INSTALL = _table("## Install")


@pytest.mark.parametrize("row", INSTALL, ids=[row[1] for row in INSTALL])
def test_install_matrix_matches_entry_points(row: list[str]) -> None:
    _, distribution, paths, schemes, replaces = row
    dist = distribution.strip("`")
    for path in paths.split():
        assert (Path(__file__).resolve().parents[1] / path.strip("`.").lstrip("/")).is_dir(), path
    builtins = celery_builtins()
    for alias in _schemes(schemes):
        entry = default_registry.entry_for(alias)
        expected = "resultstore" if entry.origin == "builtin" else entry.distribution
        assert expected == dist, (alias, entry)
        if replaces != "—" and alias in builtins:
            assert builtins[alias].replace(":", ".").rsplit(".", 1)[-1] in replaces, alias
