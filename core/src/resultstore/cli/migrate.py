"""``resultstore migrate SRC DST``: copy, with a progress bar, then verify."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..backend import ResultBackend
from ..errors import NotSupported
from ..migrate import Migration, Tally, Verdict
from .commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .output import Output

__all__ = ["migrate"]

EXIT_INTERRUPTED = 130


class _Rate(ProgressColumn):
    """Results per second (rich's own speed column speaks of bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-" if speed is None else f"{speed:,.0f} results/s", style="progress.data.speed")


@contextmanager
def _bar(out: Output, what: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (none with ``--json`` or when stderr is not a terminal)."""
    if out.json or not out.stderr.is_terminal:
        yield lambda n: None
        return
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), _Rate(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=out.stderr,
                  transient=False) as progress:
        task = progress.add_task(what, total=total)
        yield lambda n: progress.advance(task, n)


def _tally_document(tally: Tally, seconds: float) -> dict[str, Any]:
    return {"copied": tally.copied, "same": tally.same, "kept": tally.kept,
            "vanished": tally.vanished, "unreadable": tally.unreadable,
            "unreadable_ids": tally.unreadable_ids[:100], "seconds": round(seconds, 3),
            "results_per_second": round(tally.seen / seconds, 1) if seconds else None}


def _verdict_document(verdict: Verdict) -> dict[str, Any]:
    return {"identical": verdict.identical, "source": verdict.source,
            "matching": verdict.matching, "missing": len(verdict.missing),
            "differing": len(verdict.differing), "missing_ids": verdict.missing[:100],
            "differing_ids": verdict.differing[:100],
            "source_digest": verdict.source_digest,
            "destination_digest": verdict.destination_digest}


def migrate(out: Output, src: ResultBackend, dst: ResultBackend, *, batch: int, workers: int,
            dry_run: bool, verify: bool) -> int:
    """Copy every result and group of ``src`` into ``dst``; verify unless told not to."""
    migration = Migration(src, dst, batch=batch, workers=workers, dry_run=dry_run)
    try:
        items = migration.listing()
    except NotSupported as exc:
        out.error(f"{exc} (migrate reads a source with the 'scan' capability)", EXIT_USAGE)
        return EXIT_USAGE
    document: dict[str, Any] = {"source": src.as_uri(), "destination": dst.as_uri(),
                                "listed": len(items), "dry_run": dry_run,
                                "ttl_kept": migration.keeps_ttl}
    tally = Tally()
    started = time.perf_counter()
    try:
        with _bar(out, "dry run" if dry_run else "copying", len(items)) as advance:
            tally = migration.copy(items, advance)
    except KeyboardInterrupt:
        if out.json:
            out.data({**document, "interrupted": True})
        else:
            out.print("interrupted: run the same command again to resume "
                      "(records already copied are skipped)")
        return EXIT_INTERRUPTED
    document["copy"] = _tally_document(tally, time.perf_counter() - started)
    verdict = None
    if verify and not dry_run:
        started = time.perf_counter()
        with _bar(out, "verifying", len(items)) as advance:
            verdict = migration.verify(items, advance)
        document["verify"] = {**_verdict_document(verdict),
                              "seconds": round(time.perf_counter() - started, 3)}
    failed = verdict is not None and not verdict.identical
    if out.json:
        out.data(document)
    else:
        out.print(_summary(document, tally, verdict))
    return EXIT_FAILED if failed else EXIT_OK


def _summary(document: dict[str, Any], tally: Tally, verdict: Verdict | None) -> Table:
    table = Table(title=f"{document['source']} -> {document['destination']}"
                        + (" (dry run: nothing written)" if document["dry_run"] else ""),
                  box=None, title_justify="left", show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    copy = document["copy"]
    table.add_row("listed", f"{document['listed']:,}")
    table.add_row("would copy" if document["dry_run"] else "copied", f"{tally.copied:,}")
    table.add_row("already there", f"{tally.same:,}")
    table.add_row("kept (ready in destination)", f"{tally.kept:,}")
    if tally.vanished or tally.unreadable:
        table.add_row("expired meanwhile", f"{tally.vanished:,}")
        table.add_row("unreadable in source", f"{tally.unreadable:,}")
    table.add_row("time", f"{copy['seconds']:.1f} s ({copy['results_per_second'] or 0:,.0f} results/s)")
    table.add_row("remaining lives", "kept" if document["ttl_kept"] else "destination's settings")
    if verdict is not None:
        table.add_row("verify", Text("identical", style="green") if verdict.identical else
                      Text(f"{len(verdict.missing)} missing, {len(verdict.differing)} differing",
                           style="bold red"))
        table.add_row("digest", verdict.source_digest[:16]
                      + ("" if verdict.identical else f" / {verdict.destination_digest[:16]}"))
    return table
