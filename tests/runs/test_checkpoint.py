"""A trained run survives a round trip through a checkpoint file, loaded with weights_only=True."""

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.nets.build import build_model
from cnn_core.nets.presets import network
from cnn_core.runs.checkpoint import checkpoint_bytes, load_checkpoint, save_checkpoint
from cnn_core.training.run import TrainedRun

torch = pytest.importorskip("torch")


@pytest.fixture
def run():
    spec = network("digits_small", (1, 8, 8), 10)
    torch.manual_seed(0)
    model = build_model(spec)
    return TrainedRun(spec, DataConfig(dataset="digits"), {"lr": 0.001, "epochs": 3},
                      {k: v.clone() for k, v in model.state_dict().items()},
                      [{"epoch": 1, "val_acc": 0.5}], {"val_acc": 0.5, "status": "completed"}, key="abc")  # fmt: skip


def test_round_trip_keeps_weights_configs_and_history(run, tmp_path):
    path = tmp_path / "run.pt"
    save_checkpoint(run, path)
    back = load_checkpoint(path)
    assert back.spec == run.spec and back.data_config == run.data_config and back.key == "abc"
    assert back.train_config == run.train_config and back.history == run.history and back.summary == run.summary
    assert all(torch.equal(back.state_dict[k], v) for k, v in run.state_dict.items())
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(back.build()(x), run.build()(x))


@pytest.mark.parametrize("damage", [lambda b: b"not a checkpoint", lambda b: b[: len(b) // 2], lambda b: b""])
def test_a_damaged_file_is_a_clear_value_error(run, damage):
    with pytest.raises(ValueError, match="Training page"):
        load_checkpoint(damage(checkpoint_bytes(run)))


def test_a_checkpoint_whose_weights_do_not_fit_its_spec_is_refused(run):
    run.state_dict = {k: v[..., :1] if v.ndim > 1 else v for k, v in run.state_dict.items()}
    with pytest.raises(ValueError, match="do not fit"):
        load_checkpoint(checkpoint_bytes(run))


def test_a_foreign_torch_file_is_refused():
    import io

    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(2)}, buf)
    with pytest.raises(ValueError, match="not a CNN Lab checkpoint"):
        load_checkpoint(buf.getvalue())


def test_a_checkpoint_from_before_layers_had_names_still_loads(run):
    payload = run.to_payload()
    index = {"conv1": 0, "bn1": 1, "conv2": 4, "bn2": 5, "fc1": 9, "fc2": 11}  # digits_small's layers with weights
    payload["state_dict"] = {f"{index[k.split('.')[0]]}.{k.split('.', 1)[1]}": v for k, v in run.state_dict.items()}
    assert "0.weight" in payload["state_dict"]
    back = TrainedRun.from_payload(payload)
    assert set(back.state_dict) == set(run.state_dict)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(back.build()(x), run.build()(x))
