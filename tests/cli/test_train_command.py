"""`python -m cnn_core train`: the classic recipe by default, JSON results, checkpoints, one-line errors."""

import json
import subprocess
import sys

import pytest

from cnn_core.cli.commands import train_request
from cnn_core.cli.main import build_parser, main
from cnn_core.data.config import DataConfig
from cnn_core.nets.layers import layer
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.checkpoint import load_checkpoint
from cnn_core.training.config import CLASSIC_SPLIT, TrainConfig

pytestmark = pytest.mark.usefixtures("torch_state_untouched")
TINY = ["train", "--n-per-class", "12", "--size", "16", "--epochs", "1", "--arch", "tinyvgg"]


def request(*argv):
    return train_request(build_parser().parse_args(["train", *argv]))


def test_defaults_are_the_classic_recipe():
    data, train, arch = request("--dataset", "shapes", "--arch", "simple_cnn")
    assert train == TrainConfig(optimizer="adam", lr=1e-3, weight_decay=1e-4, schedule="step",
                                step_size=10, gamma=0.5, batch_size=32, epochs=30, patience=0)  # fmt: skip
    assert data == DataConfig(n_per_class=250, size=32, noise=0.1, val_fraction=0.2, test_fraction=0.0)
    assert request() == (DataConfig(**CLASSIC_SPLIT), TrainConfig(), "simple_cnn")  # the dataclasses' defaults, nothing else


SETTINGS = TrainConfig(optimizer="sgd", lr=0.05, momentum=0.8, weight_decay=0.0, schedule="one_cycle", step_size=3,
                       gamma=0.3, batch_size=64, epochs=12, label_smoothing=0.1, patience=2, rotation=15.0, hflip=True,
                       translate=0.1, crop_scale=0.8, color_jitter=0.2, precision="fp32", seed=9)  # fmt: skip


def flags(cfg) -> list[str]:
    out = []
    for name, value in cfg.to_dict().items():
        flag = "--" + name.replace("_", "-")
        out += ([flag] if value else [f"--no-{flag[2:]}"]) if isinstance(value, bool) else [flag, str(value)]
    return out


def test_every_train_setting_has_a_flag():
    settings, defaults = SETTINGS.to_dict(), TrainConfig().to_dict()
    assert len(settings) == 18 and all(settings[k] != defaults[k] for k in settings)  # every field away from its default
    assert request(*flags(SETTINGS))[1] == SETTINGS


def test_data_settings_that_share_a_name_get_a_data_prefix():
    data, train, _ = request("--rotation", "10", "--data-rotation", "30", "--seed", "1", "--data-seed", "2")
    assert (train.rotation, train.seed, data.rotation, data.seed) == (10.0, 1, 30.0, 2)


def test_a_config_file_then_the_flags(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"lr": 0.01, "epochs": 7, "optimizer": "adamw"}))
    assert request("--config", str(path), "--epochs", "3")[1] == TrainConfig(lr=0.01, epochs=3, optimizer="adamw")


def test_the_training_pages_download_replays(tmp_path, capsys):
    from tests.eval_helpers import trained_run
    from ui.train_views import config_json

    run = trained_run()
    path = tmp_path / "run.json"
    path.write_text(config_json(run))
    data, train, arch = request("--config", str(path))
    assert data == run.data_config and train.to_dict() == run.train_config
    assert arch == run.spec
    out = tmp_path / "again.pt"
    assert main(["train", "--config", str(path), "--epochs", "1", "--out", str(out), "--json"]) == 0
    again = load_checkpoint(out)
    assert again.spec == run.spec and again.data_config == run.data_config
    assert again.train_config == {**run.train_config, "epochs": 1}  # the file's step size stays: it was written out


@pytest.mark.parametrize("text, words", [
    ("{not json", "is not valid JSON"), ("[1, 2]", "must hold a JSON object"),
    ('{"lr": "fast"}', "TrainConfig.lr must be a number"), ('{"learning_rate": 1}', "unknown TrainConfig field(s) learning_rate"),
    ('{"train_config": 3}', "train_config must be a JSON object"),
    ('{"spec": {"input": 5, "layers": []}}', "input must be three positive whole numbers"),
])  # fmt: skip
def test_a_bad_config_file_exits_2_with_one_line(tmp_path, capsys, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main([*TINY, "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


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
    (["--config", "nope.json"], "cannot read"),
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


def test_a_single_run_trains_in_this_process_on_the_dataset_it_checked(monkeypatch, capsys):
    """No worker process (a second interpreter, torch import and dataset build) for the CLI's one run; the process's
    torch threads are as they were (the file's torch_state_untouched)."""
    import cnn_core.data.dataset as dataset
    from cnn_core.runs.local import LocalExecutor

    def no_worker(*args, **kwargs):
        raise AssertionError("a worker process was started")

    built = []
    real = dataset.make_dataset
    monkeypatch.setattr(dataset, "make_dataset", lambda *a, **k: built.append(1) or real(*a, **k))
    monkeypatch.setattr(LocalExecutor, "submit", no_worker)
    assert main([*TINY, "--json", "--seed", "4"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["executor"] == "local" and result["epochs_run"] == 1 and built == [1]


def test_ctrl_c_stops_an_in_process_run_after_its_epoch_and_keeps_the_model():
    import os
    import signal

    from cnn_core.runs.launch import train_here
    from cnn_core.runs.request import TrainRequest

    parsed = request("--n-per-class", "12", "--size", "16", "--epochs", "3", "--arch", "tinyvgg")
    data_cfg, cfg, _ = parsed
    spec = ModelSpec((3, 16, 16), 4, (layer("flatten"), layer("linear", out_features=4)))
    before = signal.getsignal(signal.SIGINT)
    run = train_here(TrainRequest(data_cfg, spec, cfg, "cpu"), lambda record: os.kill(os.getpid(), signal.SIGINT))
    assert run.summary["status"] == "stopped" and run.summary["epochs_run"] == 1 and len(run.state_dict) == 2
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is the process's again
