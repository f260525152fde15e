"""``resultstore migrate``: copy, resume, SUCCESS kept, remaining lives, dry run, verify."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import resultstore
from resultstore import KeyValueStore, ResultBackend, Settings, states
from resultstore.cli import main
from resultstore.migrate import Migration, digest


def memory() -> tuple[str, ResultBackend]:
    url = f"memory://migrate-{uuid.uuid4().hex}"
    return url, resultstore.connect(url)


def fill(backend: ResultBackend, n: int) -> None:
    for i in range(n):
        backend.mark_as_done(f"t{i}", {"i": i, "s": "x" * (i % 7)})
    try:
        raise KeyError("missing")
    except KeyError as exc:
        backend.mark_as_failure("failed", exc, traceback="Traceback: ...")
    backend.mark_as_started("running", pid=7)
    backend.save_group("g1", ("g1", [(("t1", None), None), (("t2", None), None)]))
    backend.set_chord_size("c1", 2)  # chord bookkeeping shares the group prefix: not a group
    backend.chord_part_return("c1", "t1", 0, states.SUCCESS, 1)


def test_copies_everything_and_verifies_identical() -> None:
    _, src = memory()
    _, dst = memory()
    fill(src, 50)
    migration = Migration(src, dst, batch=7)
    items = migration.listing()
    assert len(items) == 53  # 52 tasks + 1 group, no chord keys
    tally = migration.copy(items)
    assert (tally.copied, tally.same, tally.kept) == (53, 0, 0)
    verdict = migration.verify(items)
    assert verdict.identical and verdict.matching == 53
    assert verdict.source_digest == verdict.destination_digest
    failed = dst.get_task_meta("failed")
    assert failed["status"] == states.FAILURE and isinstance(failed["result"], KeyError)
    assert dst.get_task_meta("running")["result"] == {"pid": 7}
    assert dst.get_group_meta("g1") == src.get_group_meta("g1")


def test_interrupted_run_resumes_without_loss_or_duplicates() -> None:
    _, src = memory()
    _, dst = memory()
    fill(src, 100)
    migration = Migration(src, dst, batch=10, workers=1)
    items = migration.listing()
    batches = 0

    def stop_after_three(n: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migration.copy(items, stop_after_three)
    copied_before = sum(1 for _ in dst.task_ids())
    assert copied_before == 30
    tally = Migration(src, dst, batch=10).copy(items)
    assert (tally.same, tally.copied) == (30, len(items) - 30)
    assert Migration(src, dst).verify(items).identical
    assert sum(1 for _ in dst.task_ids()) == sum(1 for _ in src.task_ids())


def test_success_in_destination_is_never_overwritten() -> None:
    _, src = memory()
    _, dst = memory()
    src.mark_as_done("a", "from source")
    src.mark_as_started("b")
    src.mark_as_done("c", "source wins over a non-ready state")
    dst.mark_as_done("a", "already here")
    dst.mark_as_done("b", "done here")
    dst.mark_as_started("c")
    migration = Migration(src, dst)
    tally = migration.copy(migration.listing())
    assert (tally.copied, tally.kept) == (1, 2)
    assert dst.get_task_meta("a")["result"] == "already here"
    assert dst.get_task_meta("b")["result"] == "done here"
    assert dst.get_task_meta("c")["result"] == "source wins over a non-ready state"
    verdict = migration.verify(migration.listing())
    assert not verdict.identical and sorted(verdict.differing) == ["a", "b"]


def test_remaining_lives_are_kept() -> None:
    _, src = memory()
    _, dst = memory()
    src.store.set(src.keys.task("short"), src.encode({"status": "SUCCESS", "result": 1}), 120)
    src.store.set(src.keys.task("forever"), src.encode({"status": "SUCCESS", "result": 2}), None)
    migration = Migration(src, dst)
    assert migration.keeps_ttl
    migration.copy(migration.listing())
    short, forever = dst.store.ttls([dst.keys.task("short"), dst.keys.task("forever")])
    assert short is not None and 100 < short <= 120
    assert forever is None


def test_dry_run_writes_nothing() -> None:
    _, src = memory()
    _, dst = memory()
    fill(src, 5)
    migration = Migration(src, dst, dry_run=True)
    tally = migration.copy(migration.listing())
    assert tally.copied == 8
    assert list(dst.task_ids()) == []


def test_unreadable_source_values_are_reported_not_copied() -> None:
    _, src = memory()
    _, dst = memory()
    src.mark_as_done("ok", 1)
    src.store.set(src.keys.task("garbage"), b"\x00not json", None)
    migration = Migration(src, dst)
    tally = migration.copy(migration.listing())
    assert (tally.copied, tally.unreadable, tally.unreadable_ids) == (1, 1, ["garbage"])


def test_digest_ignores_representation_of_unset_fields_and_dates() -> None:
    base = {"status": "SUCCESS", "result": [1, 2], "traceback": None, "children": [],
            "date_done": "2026-01-02T03:04:05.123456+00:00", "task_id": "t"}
    as_row = {"status": "SUCCESS", "result": [1, 2], "traceback": None, "children": None,
              "date_done": "2026-01-02T03:04:05.123456", "name": None}
    assert digest(base) == digest(as_row)
    assert digest(base) != digest({**base, "result": [2, 1]})


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_copies_verifies_and_resumes(capsys: pytest.CaptureFixture[str]) -> None:
    src_url, src = memory()
    dst_url, dst = memory()
    fill(src, 20)
    code, dry = cli(capsys, "migrate", src_url, dst_url, "--dry-run")
    assert code == 0 and dry["copy"]["copied"] == 23 and "verify" not in dry
    code, first = cli(capsys, "migrate", src_url, dst_url, "--batch", "4")
    assert code == 0, first
    assert first["listed"] == 23 and first["copy"]["copied"] == 23
    assert first["verify"]["identical"] and first["verify"]["matching"] == 23
    code, again = cli(capsys, "migrate", src_url, dst_url)
    assert code == 0 and again["copy"]["copied"] == 0 and again["copy"]["same"] == 23
    dst.forget("t3")
    code, verify = cli(capsys, "migrate", src_url, dst_url, "--batch", "50")
    assert code == 0 and verify["copy"]["copied"] == 1


def test_cli_reports_differences_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    src_url, src = memory()
    dst_url, dst = memory()
    src.mark_as_done("t", "source")
    dst.mark_as_done("t", "destination")
    code, doc = cli(capsys, "migrate", src_url, dst_url)
    assert code == 1
    assert doc["copy"]["kept"] == 1 and doc["verify"]["differing_ids"] == ["t"]


class NoScan(KeyValueStore):
    @classmethod
    def from_url(cls, url: str, settings: Settings) -> NoScan:
        return cls()

    def get(self, key: str) -> bytes | None:
        return None

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        pass

    def delete(self, key: str) -> None:
        pass


def test_cli_source_that_cannot_list_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from resultstore.cli.migrate import migrate
    from resultstore.cli.output import Output

    _, dst = memory()
    code = migrate(Output(json_mode=True), ResultBackend(NoScan()), dst, batch=10, workers=1,
                   dry_run=False, verify=True)
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and "cannot list" in doc["error"] and "scan" in doc["error"]


def test_cli_human_summary(capsys: pytest.CaptureFixture[str]) -> None:
    src_url, src = memory()
    dst_url, _ = memory()
    fill(src, 3)
    assert main(["migrate", src_url, dst_url]) == 0
    out = capsys.readouterr().out
    assert "copied" in out and "identical" in out and "results/s" in out
