"""The model cache: keys, memory and disk, damaged files, the folder setting and the listing."""

import dataclasses

import pytest
import torch

from cnn_core.data.config import DataConfig
from cnn_core.runs.model_cache import ModelCache
from cnn_core.runs.registry import FILES
from cnn_core.settings import ENV_VAR, default_dir
from cnn_core.training.config import TrainConfig
from cnn_core.training.run import run_key
from tests.run_helpers import DATA, SPEC, make_run


def test_key_changes_with_data_spec_config_and_seed_only():
    cfg = TrainConfig()
    key = run_key(DATA, SPEC, cfg)
    assert key == run_key(DataConfig(dataset="digits", classes=("0", "1", "2"), n_per_class=20), SPEC, TrainConfig())
    others = [run_key(dataclasses.replace(DATA, seed=1), SPEC, cfg), run_key(DATA, SPEC.with_io((1, 8, 8), 4), cfg),
              run_key(DATA, SPEC, TrainConfig(lr=0.01)), run_key(DATA, SPEC, TrainConfig(seed=1))]  # fmt: skip
    assert len({key, *others}) == 5


def test_a_cache_hit_from_disk_returns_identical_weights(tmp_path):
    run = make_run()
    ModelCache(tmp_path).put(run)
    loaded = ModelCache(tmp_path).get(run.key)  # a fresh cache: memory is empty, so this reads the disk
    assert loaded is not None and loaded.key == run.key
    assert loaded.state_dict.keys() == run.state_dict.keys()
    assert all(torch.equal(loaded.state_dict[k], run.state_dict[k]) for k in run.state_dict)
    assert loaded.history == run.history and loaded.summary == run.summary and loaded.spec == run.spec


def test_a_miss_returns_none_and_hits_are_private_copies(tmp_path):
    cache = ModelCache(tmp_path)
    assert cache.get("0" * 20) is None
    run = make_run()
    cache.put(run)
    hit = cache.get(run.key)
    hit.summary["cached"] = True
    assert "cached" not in cache.get(run.key).summary


def test_memory_holds_at_most_capacity_runs_and_disk_keeps_the_rest(tmp_path):
    cache = ModelCache(tmp_path, capacity=2)
    runs = [make_run(seed) for seed in range(3)]
    for run in runs:
        cache.put(run)
    assert list(cache._memory) == [runs[1].run_id, runs[2].run_id]  # the least recently used went out
    assert cache.get(runs[0].key).run_id == runs[0].run_id  # …and comes back from disk


@pytest.mark.parametrize("damage", [b"not a checkpoint at all", b""])
def test_a_corrupted_file_is_skipped_reported_and_kept_and_the_run_trains_again(tmp_path, damage):
    run = make_run()
    ModelCache(tmp_path).put(run)
    path = tmp_path / FILES / f"{run.run_id}.pt"
    path.write_bytes(damage)
    cache = ModelCache(tmp_path)
    assert cache.get(run.key) is None
    assert len(cache.warnings) == 1 and f"{run.run_id}.pt" in cache.warnings[0]
    assert path.exists()  # never deleted: only reported
    again = make_run()  # trained again: a new run of the same key
    cache.put(again)
    assert ModelCache(tmp_path).get(run.key).run_id == again.run_id


def test_stopped_runs_are_kept_by_run_id_but_never_found_by_key(tmp_path):
    cache = ModelCache(tmp_path)
    stopped = make_run(status="stopped")
    cache.put(stopped)
    assert cache.get(stopped.key) is None and ModelCache(tmp_path).get(stopped.key) is None
    assert ModelCache(tmp_path).get_run(stopped.run_id).summary["status"] == "stopped"


def test_the_environment_variable_moves_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert ModelCache().folder == tmp_path / "elsewhere" == default_dir()
    monkeypatch.delenv(ENV_VAR)
    assert default_dir().parts[-2:] == (".cache", "cnn-lab")


def test_listing_shows_registered_runs_newest_first(tmp_path):
    cache = ModelCache(tmp_path)
    cache.put(make_run(0))
    cache.put(make_run(1), who="anon-2")
    entries = cache.listing()
    assert [e["key"] for e in entries] == [make_run(1).key, make_run(0).key]
    assert entries[0]["val_acc"] == 0.4 and entries[0]["dataset"] == "digits" and entries[0]["who"] == "anon-2"


def test_an_unwritable_folder_warns_instead_of_crashing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    cache = ModelCache(blocker)
    run = make_run()
    cache.put(run)
    assert cache.warnings and cache.get(run.key) is not None  # still served from memory
