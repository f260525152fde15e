"""Encryption at rest on redis://: store/get ops/s with and without aes-gcm, one server, one run.

``python -m bench.encryption [N]`` (needs redis-server and cryptography; not in CI).  Rows:
plain JSON (ours), ``aes-gcm``, ``zlib`` + ``aes-gcm``, ``zlib`` + ``aes-gcm`` + ``hmac-sha256``,
and Celery's own RedisBackend for reference, each for a small result (an int) and a 10 KB one.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from resultstore.testing.servers import ServerProcess

from .harness import ops_per_second
from .redis_suite import _celery_backend

KEYS = {"k1": b"\x01" * 32}
CONFIGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "aes-gcm": {"resultstore_transforms": ["aes-gcm"], "resultstore_encryption_keys": KEYS},
    "zlib+aes-gcm": {"resultstore_transforms": ["zlib", "aes-gcm"],
                     "resultstore_encryption_keys": KEYS},
    "zlib+aes-gcm+hmac": {"resultstore_transforms": ["zlib", "aes-gcm", "hmac-sha256"],
                          "resultstore_encryption_keys": KEYS, "resultstore_signing_key": "s"},
}
RESULTS = {"int": 7, "10KB": {"rows": ["x" * 100] * 100}}


def main(argv: list[str]) -> int:
    import resultstore
    from resultstore import states

    n = int(argv[0]) if argv else 5000
    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-enc-"))
    argv_ = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    rows: list[tuple[str, str, float, float]] = []
    with ServerProcess(argv_, workdir) as server:
        url = f"redis://127.0.0.1:{server.port}/0"
        backends: dict[str, Any] = {name: resultstore.connect(url, **cfg) for name, cfg in CONFIGS.items()}
        backends["celery RedisBackend"] = _celery_backend(server.port)[1]
        for label, value in RESULTS.items():
            for name, backend in backends.items():
                prefix = f"{name}-{label}-"
                store = ops_per_second(
                    lambda i, b=backend, p=prefix, v=value: b.store_result(f"{p}{i}", v, states.SUCCESS), n)
                get = ops_per_second(lambda i, b=backend, p=prefix: b.get_task_meta(f"{p}{i % n}"), n)
                rows.append((label, name, store, get))
    base = {label: (s, g) for label, name, s, g in rows if name == "plain"}
    print(f"redis:// encryption, n={n} per row (best of 3), ops/s; ratio vs plain")
    print(f"{'result':6} {'config':22} {'store':>9} {'ratio':>6} {'get':>9} {'ratio':>6}")
    for label, name, store, get in rows:
        bs, bg = base[label]
        print(f"{label:6} {name:22} {store:9.0f} {store / bs:6.2f} {get:9.0f} {get / bg:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
