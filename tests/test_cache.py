"""The model cache: keys, memory and disk, damaged files, the folder setting and the listing."""

import dataclasses

import pytest
import torch

from cnn_core.cache import ENV_VAR, ModelCache, default_dir, run_key
from cnn_core.checkpoint import TrainedRun, save_checkpoint
from cnn_core.data import DataConfig
from cnn_core.layers import layer
from cnn_core.spec import ModelSpec, build_model
from cnn_core.train import TrainConfig

SPEC = ModelSpec((1, 8, 8), 3, (layer("conv2d", out_channels=4), layer("relu"), layer("flatten"),
                                layer("linear", out_features=3)))  # fmt: skip
DATA = DataConfig(dataset="digits", classes=("0", "1", "2"), n_per_class=20)


def make_run(seed: int = 0) -> TrainedRun:
    cfg = TrainConfig(epochs=1, seed=seed)
    torch.manual_seed(seed)
    state = {k: v.clone() for k, v in build_model(SPEC).state_dict().items()}
    history = [dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.4, lr=1e-3, seconds=0.1)]
    summary = dict(val_acc=0.4, val_loss=1.1, epochs_run=1, train_seconds=0.1, device="cpu", params=1, status="completed",
                   reason="trained all 1 epoch")  # fmt: skip
    return TrainedRun(SPEC, DATA, cfg.to_dict(), state, history, summary, run_key(DATA, SPEC, cfg))


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
    assert list(cache._memory) == [runs[1].key, runs[2].key]  # the least recently used went out
    assert cache.get(runs[0].key) is not None  # …and comes back from disk


@pytest.mark.parametrize("damage", [b"not a checkpoint at all", b""])
def test_a_corrupted_file_is_ignored_replaced_and_reported(tmp_path, damage):
    run = make_run()
    cache = ModelCache(tmp_path)
    (tmp_path / f"{run.key}.pt").write_bytes(damage)
    assert cache.get(run.key) is None
    assert len(cache.warnings) == 1 and f"{run.key}.pt" in cache.warnings[0]
    assert not (tmp_path / f"{run.key}.pt").exists()
    cache.put(run)  # trained again: the new file replaces the damaged one
    assert ModelCache(tmp_path).get(run.key) is not None


def test_a_checkpoint_of_another_run_under_a_key_is_ignored(tmp_path):
    save_checkpoint(make_run(1), tmp_path / f"{make_run(0).key}.pt")
    cache = ModelCache(tmp_path)
    assert cache.get(make_run(0).key) is None
    assert "trained again" in cache.warnings[0]


def test_the_environment_variable_moves_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert ModelCache().folder == tmp_path / "elsewhere" == default_dir()
    monkeypatch.delenv(ENV_VAR)
    assert default_dir().parts[-2:] == (".cache", "cnn-lab")


def test_listing_shows_cached_runs_and_skips_unreadable_entries(tmp_path):
    cache = ModelCache(tmp_path)
    cache.put(make_run(0))
    cache.put(make_run(1))
    (tmp_path / "garbage.json").write_text("{not json")
    entries = cache.listing()
    assert {e["key"] for e in entries} == {make_run(0).key, make_run(1).key}
    assert entries[0]["val_acc"] == 0.4 and entries[0]["dataset"] == "digits"
    assert any("garbage.json" in w for w in cache.warnings)


def test_an_unwritable_folder_warns_instead_of_crashing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    cache = ModelCache(blocker)
    run = make_run()
    cache.put(run)
    assert cache.warnings and cache.get(run.key) is not None  # still served from memory
