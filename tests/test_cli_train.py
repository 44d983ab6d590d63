"""`python -m cnn_core train`: the classic recipe by default, JSON results, checkpoints, one-line errors."""

import json
import subprocess
import sys

import pytest

from cnn_core.checkpoint import load_checkpoint
from cnn_core.cli import build_parser, data_config_from_args, main, train_config_from_args
from cnn_core.data import DataConfig
from cnn_core.layers import layer
from cnn_core.spec import ModelSpec
from cnn_core.train import TrainConfig

TINY = ["train", "--n-per-class", "12", "--size", "16", "--epochs", "1", "--arch", "tinyvgg"]


def test_defaults_are_the_classic_recipe():
    args = build_parser().parse_args(["train", "--dataset", "shapes", "--arch", "simple_cnn"])
    assert train_config_from_args(args) == TrainConfig(optimizer="adam", lr=1e-3, weight_decay=1e-4, schedule="step",
                                                       step_size=10, gamma=0.5, batch_size=32, epochs=30, patience=0)
    assert data_config_from_args(args) == DataConfig(n_per_class=250, size=32, noise=0.1, val_fraction=0.2,
                                                     test_fraction=0.0)  # fmt: skip


def test_json_output_has_the_results(capsys):
    assert main([*TINY, "--json", "--seed", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"val_acc", "val_loss", "epochs_run", "train_seconds", "device", "params"} <= set(result)
    assert result["epochs_run"] == 1 and result["device"] == "cpu" and 0 <= result["val_acc"] <= 1


def test_out_writes_a_checkpoint_that_loads(tmp_path, capsys):
    out = tmp_path / "run.pt"
    assert main([*TINY, "--out", str(out), "--optimizer", "sgd", "--lr", "0.05"]) == 0
    run = load_checkpoint(out)
    assert run.train_config["optimizer"] == "sgd" and len(run.history) == 1
    assert "wrote" in capsys.readouterr().out


def test_arch_may_be_a_json_spec_file(tmp_path, capsys):
    spec = ModelSpec((3, 32, 32), 4, (layer("conv2d", out_channels=4), layer("relu"), layer("flatten"),
                                      layer("linear", out_features=4)))  # fmt: skip
    path = tmp_path / "net.json"
    path.write_text(spec.to_json(indent=2))
    assert main([*TINY[:-2], "--arch", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 3 * 4 * 9 + 4 + 4 * 14 * 14 * 4 + 4


@pytest.mark.parametrize("extra, words", [
    (["--lr", "-1"], "learning rate"), (["--arch", "no_such_net"], "neither a preset"),
    (["--optimizer", "rmsprop"], "invalid choice"), (["--epochs", "0"], "epochs"), (["--batch-size", "x"], "invalid int"),
    (["--dataset", "digits", "--size", "8", "--arch", "lenet5"], "layer"), (["--threads", "0"], "threads"),
])  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(extra, words, capsys):
    assert main([*TINY, *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "cnn_core", "train", "--epochs", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: epochs")
