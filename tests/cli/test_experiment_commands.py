"""The `experiment` and `sweep` commands: every bad input exits 2 with one line on stderr."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize(
    "args, message",
    [(["experiment", "--exercise", "gradcam"], "invalid choice: 'gradcam'"),
     (["experiment"], "--exercise"),
     (["experiment", "--exercise", "deeper", "--seeds", "0"], "seeds must be a whole number from 1 to 10"),
     (["experiment", "--exercise", "deeper", "--seeds", "11"], "seeds must be"),
     (["experiment", "--exercise", "deeper", "--epochs", "0"], "epochs must be between 1 and 1000"),
     (["experiment", "--exercise", "deeper", "--n-per-class", "0"], "images per class must be at least 1"),
     (["experiment", "--exercise", "deeper", "--test-fraction", "0"], "test share above 0"),
     (["experiment", "--exercise", "deeper", "--workers", "0"], "at least 1"),
     (["experiment", "--exercise", "deeper", "--task", "easy"], "invalid choice: 'easy'"),
     (["sweep"], "--param"),
     (["sweep", "--param", "momentum_decay=1,2"], "unknown hyperparameter 'momentum_decay'"),
     (["sweep", "--param", "lr"], "name=value1,value2"),
     (["sweep", "--param", "lr=abc"], "lr takes numbers"),
     (["sweep", "--param", "batch_size=0,32"], "batch_size=0: the batch size must be at least 1"),
     (["sweep", "--param", "lr=-1"], "the learning rate must be above 0"),
     (["sweep", "--param", "lr=1e-3,1e-2", "--param", "batch_size=8,16,32", "--budget", "4"],
      "the grid has 6 combinations, more than the budget of 4"),
     (["sweep", "--param", "lr=1e-3,1e-2", "--random", "3"], "has only 2"),
     (["sweep", "--param", "lr=1e-3", "--random", "0"], "budget must be from 1"),
     (["sweep", "--param", "blocks=12"], "num_blocks must be from 1 to 8"),
     (["sweep", "--param", "lr=1e-3", "--param", "lr=1e-2"], "only once")],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


TINY = ["--task", "classic", "--n-per-class", "8", "--size", "16", "--test-fraction", "0.25", "--epochs", "1"]


def test_a_tiny_experiment_prints_the_issues_json_and_a_rerun_trains_nothing(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path))
    result = run_cli("experiment", "--exercise", "batchnorm", "--seeds", "2", *TINY, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"exercise", "seeds", "variants", "comparisons", "verdict"}
    assert out["exercise"] == "batchnorm" and out["seeds"] == 2
    (c,) = out["comparisons"]  # the interval, the p-value and the corrected verdict
    assert c["variant"] == "no batch norm" and c["baseline"] == "batch norm" and c["paired"] and c["seeds"] == 2
    accs = [v["test_acc"] for v in out["variants"]]
    assert c["difference"] == pytest.approx(sum(b - a for a, b in zip(*accs)) / 2)
    assert c["outcome"] in ("better", "worse", "unclear") and c["comparisons_corrected"] == 1
    if c["p"] is None:  # the same difference at both seeds: no spread, no verdict
        assert c["ci_low"] is None and c["outcome"] == "unclear"
    else:
        assert c["ci_low"] <= c["difference"] <= c["ci_high"] and c["p_adjusted"] == c["p"]
        assert (c["outcome"] != "unclear") == (c["p_adjusted"] < 0.05)
    assert out["verdict"].startswith("no batch norm: ")
    assert [v["name"] for v in out["variants"]] == ["batch norm", "no batch norm"]
    for v in out["variants"]:
        assert set(v) == {"name", "test_acc", "mean", "std", "params", "seconds"}
        assert len(v["test_acc"]) == 2 and v["mean"] == pytest.approx(sum(v["test_acc"]) / 2)
    with_bn, without = out["variants"]
    assert with_bn["params"] - without["params"] == 2 * (32 + 64 + 128)  # BatchNorm2d's weight and bias

    again = run_cli("experiment", "--exercise", "batchnorm", "--seeds", "2", *TINY)
    assert again.returncode == 0, again.stderr
    progress = again.stderr.strip().splitlines()
    assert len(progress) == 4 and all(line.endswith("(cached)") for line in progress)
    assert "verdict:" in again.stdout and "Does batch norm help?" in again.stdout


def test_a_tiny_sweep_prints_one_row_per_trial_and_the_best(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path))
    result = run_cli("sweep", "--param", "lr=1e-3,1e-2", "--param", "width=0.5", *TINY, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["mode"] == "grid" and [(t["lr"], t["width"]) for t in out["trials"]] == [(1e-3, 0.5), (1e-2, 0.5)]
    best = max(out["trials"], key=lambda t: (t["val_acc"], -t["params"], -t["trial"]))
    assert out["best"]["trial"] == best["trial"]
    low, high = out["best_val_ci"]  # the best's validation accuracy with its Wilson interval
    assert low <= out["best"]["val_acc"] <= high and out["best"]["val_images"] == 4  # 4 classes × round(8 × 0.15)
    assert all(isinstance(n, int) for n in out["close_to_best"])
