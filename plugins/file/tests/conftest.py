"""Fixtures of the file store tests: a fresh result directory per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore.testing import opened_backends


@pytest.fixture
def result_dir(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def file_url(result_dir: Path) -> str:
    return f"file://{result_dir}"


@pytest.fixture
def make_file_backend(file_url: str) -> Iterator[Callable[..., resultstore.ResultBackend]]:
    with opened_backends(file_url) as open_backend:
        yield open_backend
