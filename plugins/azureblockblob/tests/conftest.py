"""An azurite Blob server for the session and a fresh container per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from resultstore.testing.servers import ServerProcess

#: Azurite's documented development account (public, the same in every azurite install).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("azurite")
    argv = ["azurite-blob", "--blobHost", "127.0.0.1", "--blobPort", "{port}", "--inMemoryPersistence",
            "--silent", "--skipApiVersionCheck"]
    with ServerProcess(argv, workdir=workdir) as server:
        yield f"http://127.0.0.1:{server.port}/{ACCOUNT}"


@pytest.fixture
def azure_connection_string(azurite_endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={azurite_endpoint};")


@pytest.fixture
def azure_settings() -> dict[str, Any]:
    """A fresh container (created on first use, as Celery does) and base path."""
    return {"azureblockblob_container_name": f"rs-{uuid.uuid4().hex[:12]}",
            "azureblockblob_base_path": f"run-{uuid.uuid4().hex[:8]}/"}
