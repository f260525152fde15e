"""Peak RSS of a reader handed a decompression bomb (issue 14, item 1).

``python -m bench.bomb_rss [GiB]`` builds, per codec, a payload inflating to
``GiB`` (default 2) GiB of zeros, stores it in a ``memory://`` backend with the
default ``resultstore_max_payload_size`` and reads it in a fresh subprocess,
reporting that process's ``ru_maxrss`` next to a baseline process reading a
small result.  Figures, not assertions.
"""

from __future__ import annotations

import bz2
import lzma
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from resultstore.codec import COMPRESSED_PAYLOAD_MAGIC
from resultstore.transforms import MARKER

_READER = r"""
import resource, sys, time
import resultstore
payload = open(sys.argv[1], "rb").read() if sys.argv[1] != "-" else b'{"status": "SUCCESS", "result": 1}'
backend = resultstore.connect("memory://")
backend.store.set(backend.keys.task("bomb"), payload, None)
del payload
started = time.perf_counter()
try:
    backend.get_task_meta("bomb")
    outcome = "read"
except resultstore.DecodeError as exc:
    outcome = "DecodeError: " + str(exc)[:70]
elapsed = time.perf_counter() - started
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, f"{elapsed:.2f}", outcome)
"""


def _stream(compressor: object, size: int) -> bytes:
    block = b"\0" * (1 << 24)
    out = [compressor.compress(block) for _ in range(size // len(block))]  # type: ignore[attr-defined]
    return b"".join(out) + compressor.flush()  # type: ignore[attr-defined]


def _bombs(size: int) -> dict[str, bytes]:
    def celery(content_type: str, body: bytes) -> bytes:
        return COMPRESSED_PAYLOAD_MAGIC + content_type.encode() + b"\x00" + body

    return {
        "bz2 (Celery marker)": celery("application/x-bz2", _stream(bz2.BZ2Compressor(9), size)),
        "gzip (Celery marker)": celery("application/x-gzip", _stream(zlib.compressobj(9), size)),
        "lzma (Celery marker)": celery("application/x-lzma", _stream(lzma.LZMACompressor(), size)),
        "zlib transform": MARKER + b"zlib\x00" + _stream(zlib.compressobj(9), size),
    }


def _read(path: str) -> str:
    done = subprocess.run([sys.executable, "-c", _READER, path], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return done.stdout.strip()


def _build(directory: str, gib: float) -> None:
    """Write the bombs as files (run in its own process: Linux hands a parent's peak RSS
    down to every child it spawns, and the lzma encoder alone takes ~100 MiB)."""
    for index, (name, payload) in enumerate(_bombs(int(gib * (1 << 30))).items()):
        Path(directory, f"{index}.bomb").write_bytes(payload)
        Path(directory, f"{index}.name").write_text(name)


def main(gib: float = 2.0) -> None:
    print(f"baseline (small result): peak RSS MiB, seconds, outcome = {_read('-')}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench.bomb_rss", "--build", tmp, str(gib)], check=True)
        print(f"built 4 bombs of {gib} GiB in {time.perf_counter() - started:.0f} s")
        for path in sorted(Path(tmp).glob("*.bomb")):
            name = path.with_suffix(".name").read_text()
            rss, seconds, outcome = _read(str(path)).split(" ", 2)
            print(f"{name:22} {path.stat().st_size:>9} B stored -> peak RSS {rss:>4} MiB, "
                  f"{seconds} s, {outcome}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        _build(sys.argv[2], float(sys.argv[3]))
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
