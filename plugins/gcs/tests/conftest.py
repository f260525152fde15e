"""A GCS emulator for the session (``STORAGE_EMULATOR_HOST``) and a fresh bucket per test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from resultstore.testing.servers import ServerProcess

PROJECT = "rs-test-project"


#: Runs ``gcp-storage-emulator`` unchanged but for two load artefacts of a test server:
#: its ``HTTPServer`` listens with a backlog of 5 (a 6th concurrent client's SYN is dropped and
#: retried a second later), and in ``--in-memory`` mode it re-serializes every object's
#: metadata to an in-memory ``.meta`` file on each write (O(objects) per write), a
#: persistence file that in-memory mode never reads back.
LAUNCHER = "; ".join([
    "import sys, http.server",
    "http.server.HTTPServer.request_queue_size = 128",
    "import gcp_storage_emulator.storage as storage",
    "persist = storage.Storage._write_config_to_file",
    "storage.Storage._write_config_to_file = lambda self: None if self._use_memory_fs else persist(self)",
    "from gcp_storage_emulator.__main__ import main",
    "sys.exit(main(sys.argv[1:]))",
])


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    argv = [sys.executable, "-c", LAUNCHER, "start", "--host", "127.0.0.1", "--port", "{port}",
            "--in-memory"]
    with ServerProcess(argv, workdir=tmp_path_factory.mktemp("gcs")) as server:
        endpoint = f"http://127.0.0.1:{server.port}"
        previous = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint  # how google-cloud-storage finds emulators
        try:
            yield endpoint
        finally:
            if previous is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = previous


@pytest.fixture
def gcs_client(gcs_emulator: str) -> storage.Client:
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials())


@pytest.fixture
def gcs_bucket(gcs_client: storage.Client) -> str:
    name = f"rs-test-{uuid.uuid4().hex[:12]}"
    gcs_client.create_bucket(name)
    return name


@pytest.fixture
def gcs_settings(gcs_bucket: str) -> dict[str, Any]:
    return {"gcs_bucket": gcs_bucket, "gcs_project": PROJECT,
            "gcs_base_path": f"run-{uuid.uuid4().hex[:10]}"}
