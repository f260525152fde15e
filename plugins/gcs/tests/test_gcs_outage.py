"""The outage kit on the GCS emulator, through a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from resultstore.testing import OutageSuite, Proxied, opened_backends

#: google-cloud-storage waits 60 s per request and retries one call for 120 s by default.
TIMEOUTS = {"gcs_timeout": 1.0, "gcs_retry_deadline": 1.0}


class TestGCSOutage(OutageSuite):
    call_timeout = 4.0

    @pytest.fixture
    def proxied(self, gcs_emulator: str, gcs_settings: dict[str, Any],
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxied]:
        upstream = urlsplit(gcs_emulator)

        def open_through(port: int, **settings: Any) -> Any:
            # how google-cloud-storage finds the emulator (read when a client is made)
            monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
            return open_backend(**settings)

        url = f"gs://{gcs_settings['gcs_bucket']}/{gcs_settings['gcs_base_path']}"
        with opened_backends(url, gcs_project=gcs_settings["gcs_project"], **TIMEOUTS) as open_backend:
            yield Proxied((upstream.hostname or "", upstream.port or 80), open_through)
