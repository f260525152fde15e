"""The plugin-author guide's example distribution, installed for real and put through the kit."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import resultstore
from resultstore.registry import Registry
from resultstore.testing import ConformanceSuite

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "thirdparty"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(EXAMPLE)], check=True)
    sys.path.insert(0, str(site))
    yield Registry()
    sys.path.remove(str(site))


def test_discovered_through_its_entry_point(installed: Registry) -> None:
    entry = installed.entry_for("dictdemo")
    assert (entry.distribution, entry.origin) == ("resultstore-dictdemo", "entry-point")
    assert installed.resolve("dictdemo://")[0].__name__ == "DictDemoStore"


class TestThirdPartyStore(ConformanceSuite):
    @pytest.fixture
    def make_backend(self, installed: Registry) -> Callable[..., resultstore.ResultBackend]:
        return lambda **settings: resultstore.connect("dictdemo://", registry=installed, **settings)
