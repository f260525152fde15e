"""The server's password changes under a waiting client (issue 14, item 12).

Redis keeps connections that authenticated before ``CONFIG SET requirepass``; a new
pub/sub connection is refused.  The subscriber must say so once at WARNING (masked) and
the waits must fall back to polling (re-reads over the pool's open connections) instead
of timing out silently.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from redis_servers import start_redis

import resultstore
from resultstore.waiting import waiter

OLD = "old;p@ss/w#rd?QX7"
NEW = "new-password-QX8"


def test_wait_survives_a_password_change(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = start_redis(tmp_path, "--requirepass", OLD, password=OLD)
    try:
        url = f"redis://:{quote(OLD, safe='')}@127.0.0.1:{server.port}/0"
        reader = resultstore.connect(url)
        admin = redis.Redis(port=server.port, password=OLD)
        got: dict[str, Any] = {}

        def wait() -> None:
            try:
                got["meta"] = waiter(reader).wait("t-pw", timeout=20)
            except Exception as exc:  # reported by the assertion below
                got["error"] = exc

        caplog.set_level(logging.DEBUG)
        thread = threading.Thread(target=wait)
        thread.start()
        deadline = time.monotonic() + 10
        while not admin.pubsub_channels() and time.monotonic() < deadline:
            time.sleep(0.05)  # the wait is subscribed: push is in use
        assert admin.pubsub_channels(), "the wait never subscribed"
        admin.config_set("requirepass", NEW)
        admin.client_kill_filter(_type="pubsub")  # the pub/sub connection must authenticate again
        time.sleep(1.5)  # a reconnect or two are refused
        writer = resultstore.connect(f"redis://:{NEW}@127.0.0.1:{server.port}/0")
        started = time.monotonic()
        writer.mark_as_done("t-pw", "done")
        thread.join(15)
        assert not thread.is_alive() and "error" not in got, got
        assert got["meta"]["result"] == "done"
        assert time.monotonic() - started < 5, "the wait was not polling"
        refused = [r for r in caplog.records if r.levelno == logging.WARNING
                   and "refuses the credentials" in r.getMessage()]
        assert len(refused) == 1, [r.getMessage() for r in caplog.records]
        assert "QX7" not in caplog.text and "p@ss" not in caplog.text
        assert "redis://:**@127.0.0.1" in refused[0].getMessage()
        reader.close()
        writer.close()
    finally:
        server.stop()
