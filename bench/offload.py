"""Large-result offload: a 600 MB result through redis://, offloaded to moto S3 and to file://.

``python -m bench.offload [MB]`` (default 600; not in CI: needs redis-server, moto, boto3 and
several GB of RAM).  Every scenario runs in its own process so its peak RSS is its own:

* ours, ``redis://`` + offload to ``s3://`` (moto server) and to ``file://``;
* ours, ``redis://`` without offload (Redis refuses values over its 512 MB ``proto-max-bulk-len``);
* Celery's own ``RedisBackend`` (same limit).

Readers need ``resultstore_max_payload_size`` above the result's size (set to 2 GiB here).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MAX = 2 << 30


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(scenario: str, redis_port: int, endpoint: str, bucket: str, workdir: str,
          mb: int) -> dict[str, Any]:
    import resultstore
    from resultstore import states

    value = "x" * (mb * 1_000_000)
    base = _rss_mib()
    task_id = f"big-{uuid.uuid4().hex}"
    url = f"redis://127.0.0.1:{redis_port}/0"
    settings: dict[str, Any] = {"resultstore_max_payload_size": MAX, "redis_socket_timeout": 600}
    if scenario == "s3":
        settings.update(resultstore_offload_url="s3://", s3_bucket=bucket, s3_endpoint_url=endpoint,
                        s3_region="us-east-1", s3_access_key_id="k", s3_secret_access_key="s")
    elif scenario == "file":
        settings.update(resultstore_offload_url=f"file://{workdir}/objects")
    out: dict[str, Any] = {"scenario": scenario, "size_mb": mb, "rss_value_mib": round(base)}
    start = time.perf_counter()
    celery_backend = None
    if scenario == "celery":
        from celery import Celery
        from celery.backends.redis import RedisBackend

        app = Celery("bench", broker="memory://", backend=RedisBackend, set_as_current=False)
        app.conf.update(redis_host="127.0.0.1", redis_port=redis_port, redis_db=0)
        celery_backend = app.backend
    try:
        if celery_backend is not None:
            celery_backend.store_result(task_id, value, states.SUCCESS)
        else:
            resultstore.connect(url, **settings).store_result(task_id, value, states.SUCCESS)
    except Exception as exc:
        out.update(store_s=round(time.perf_counter() - start, 2),
                   error=f"{type(exc).__name__}: {str(exc)[:160]}", peak_rss_mib=round(_rss_mib()))
        return out
    out["store_s"] = round(time.perf_counter() - start, 2)
    del value
    start = time.perf_counter()
    reader = resultstore.connect(url, **settings)
    got = (celery_backend or reader).get_task_meta(task_id)["result"]
    out["get_s"] = round(time.perf_counter() - start, 2)
    assert len(got) == mb * 1_000_000
    pointer = resultstore.connect(url).store.get(reader.keys.task(task_id))  # type: ignore[union-attr]
    out["primary_value_bytes"] = len(pointer or b"")
    out["peak_rss_mib"] = round(_rss_mib())
    reader.forget(task_id)
    return out


def main(argv: list[str]) -> int:
    import boto3

    from resultstore.testing.moto import moto_argv
    from resultstore.testing.servers import ServerProcess

    mb = int(argv[0]) if argv else 600
    workdir = Path(tempfile.mkdtemp(prefix="rs-bench-offload-"))
    redis_argv = ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no"]
    rows = []
    with ServerProcess(redis_argv, workdir / "redis") as redis_server, \
            ServerProcess(moto_argv(), workdir / "moto") as moto:
        endpoint = f"http://127.0.0.1:{moto.port}"
        bucket = f"offload-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k",
                     aws_secret_access_key="s").create_bucket(Bucket=bucket)
        for scenario in ("s3", "file", "none", "celery"):
            args = [sys.executable, "-m", "bench.offload", "--child", scenario, str(redis_server.port),
                    endpoint, bucket, str(workdir), str(mb)]
            proc = subprocess.run(args, capture_output=True, text=True, check=False)
            line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
            row = json.loads(line) if line.startswith("{") else {"scenario": scenario,
                                                                 "error": proc.stderr[-300:]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        scenario, port, endpoint, bucket, workdir, mb = sys.argv[2:8]
        print(json.dumps(child(scenario, int(port), endpoint, bucket, workdir, int(mb))))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
