"""The run registry: SQLite rows beside checkpoint files; damaged or missing files; bounds; two writers."""

import multiprocessing
import os
import time

import pytest

from cnn_core.runs.checkpoint import TMP_SUFFIX
from cnn_core.runs.registry import FILES, RunRegistry
from tests.run_helpers import make_run, put_many, same_weights


def test_a_registered_run_is_found_by_its_key_with_identical_weights(tmp_path):
    run = make_run()
    RunRegistry(tmp_path).put(run, who="anon-1")
    found = RunRegistry(tmp_path).find(run.key)  # another registry on the folder: nothing in memory
    assert found is not None and found.run_id == run.run_id and same_weights(found, run)
    assert found.history == run.history and found.summary == run.summary
    [entry] = RunRegistry(tmp_path).listing()
    assert entry["run_id"] == run.run_id and entry["key"] == run.key and entry["who"] == "anon-1"
    assert entry["status"] == "completed" and entry["val_acc"] == 0.4 and entry["input"] == [1, 8, 8]


def test_only_completed_and_early_stopped_runs_are_found_by_key(tmp_path):
    registry = RunRegistry(tmp_path)
    stopped, diverged = make_run(0, "stopped", 0.3), make_run(0, "diverged", 0.1)
    registry.put(stopped)
    registry.put(diverged)
    assert registry.find(stopped.key) is None  # neither is what the configuration gives
    assert registry.load(stopped.run_id).summary["status"] == "stopped"  # …but both are there by run id
    early = make_run(0, "early stopping", 0.9)
    registry.put(early)
    assert registry.find(early.key).run_id == early.run_id


def test_two_runs_of_one_key_keep_their_own_weights_and_scores(tmp_path):
    registry = RunRegistry(tmp_path)
    stopped, completed = make_run(0, "stopped", 0.3), make_run(0, "completed", 0.9)
    completed.state_dict = {k: v + 1 for k, v in completed.state_dict.items()}
    registry.put(stopped)
    registry.put(completed)
    assert stopped.key == completed.key and stopped.run_id != completed.run_id
    assert registry.load(stopped.run_id).summary["val_acc"] == 0.3 and same_weights(registry.load(stopped.run_id), stopped)
    assert registry.load(completed.run_id).summary["val_acc"] == 0.9
    assert [e["status"] for e in registry.listing()] == ["completed", "stopped"]


def test_a_truncated_file_is_skipped_and_reported_and_the_good_entries_survive(tmp_path):
    registry = RunRegistry(tmp_path)
    good, bad = make_run(0), make_run(1)
    registry.put(good)
    registry.put(bad)
    path = tmp_path / FILES / f"{bad.run_id}.pt"
    path.write_bytes(path.read_bytes()[:200])
    fresh = RunRegistry(tmp_path)
    assert fresh.find(bad.key) is None
    assert any(bad.run_id in w and "damaged" in w for w in fresh.warnings)
    assert path.exists()  # reported, never deleted: it might be someone's to inspect
    assert [e["run_id"] for e in fresh.listing()] == [good.run_id]
    assert fresh.find(good.key).run_id == good.run_id
    assert [p[0] for p in fresh.problems()] == [bad.run_id]


def test_a_missing_file_is_skipped_and_reported(tmp_path):
    registry = RunRegistry(tmp_path)
    run = make_run()
    registry.put(run)
    (tmp_path / FILES / f"{run.run_id}.pt").unlink()
    assert registry.listing() == []
    assert any("missing" in w for w in registry.warnings)
    assert registry.find(run.key) is None


def test_a_read_that_fails_for_the_machine_s_reasons_deletes_and_marks_nothing(tmp_path, monkeypatch):
    registry = RunRegistry(tmp_path)
    run = make_run()
    registry.put(run)

    def too_many_open_files(self):
        raise OSError(24, "Too many open files")

    from pathlib import Path

    with monkeypatch.context() as m:
        m.setattr(Path, "read_bytes", too_many_open_files)
        assert registry.find(run.key) is None
    assert any("Too many open files" in w for w in registry.warnings)
    assert registry.problems() == [] and registry.find(run.key).run_id == run.run_id


def test_the_folder_keeps_the_newest_runs_within_its_bounds(tmp_path):
    registry = RunRegistry(tmp_path, max_runs=3)
    runs = [make_run(seed) for seed in range(5)]
    for run in runs:
        registry.put(run)
    assert [e["run_id"] for e in registry.listing()] == [r.run_id for r in reversed(runs[2:])]
    assert sorted(p.stem for p in (tmp_path / FILES).glob("*.pt")) == sorted(r.run_id for r in runs[2:])
    size = (tmp_path / FILES / f"{runs[4].run_id}.pt").stat().st_size
    by_size = RunRegistry(tmp_path / "small", max_bytes=2 * size + size // 2)
    for run in runs:
        by_size.put(run)
    assert len(by_size.listing()) == 2


def test_stale_temporary_files_go_and_fresh_ones_stay(tmp_path):
    registry = RunRegistry(tmp_path)
    registry.put(make_run(0))
    stale, fresh = (tmp_path / FILES / f".x.pt.stale{TMP_SUFFIX}"), (tmp_path / FILES / f".y.pt.fresh{TMP_SUFFIX}")
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    registry.put(make_run(1))
    assert not stale.exists() and fresh.exists()


def test_two_processes_writing_while_a_third_lists_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=put_many, args=(str(tmp_path), first, 12)) for first in (0, 100)]
    for w in writers:
        w.start()
    registry, seen = RunRegistry(tmp_path), 0
    while any(w.is_alive() for w in writers):
        entries = registry.listing()  # a query while others write: never an error, never fewer entries
        assert len(entries) >= seen
        seen = len(entries)
    for w in writers:
        w.join()
        assert w.exitcode == 0
    entries = registry.listing()
    assert len(entries) == 24 and registry.warnings == []
    assert {e["who"] for e in entries} == {"writer-0", "writer-100"}
    assert all(registry.load(e["run_id"]) is not None for e in entries)


def test_a_run_id_that_is_not_hex_is_refused(tmp_path):
    run = make_run()
    run.run_id = "../escape"
    with pytest.raises(ValueError, match="hex"):
        RunRegistry(tmp_path).put(run)
    assert RunRegistry(tmp_path).load("../escape") is None
