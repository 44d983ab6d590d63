"""The training engine: learning, determinism, schedules, divergence, stopping, augmentation, devices."""

import math
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import train as train_mod
from cnn_core.augment import make_augment
from cnn_core.data import DataConfig, make_dataset
from cnn_core.layers import layer
from cnn_core.presets import network
from cnn_core.spec import ModelSpec, build_model
from cnn_core.train import DIVERGED, TrainConfig, evaluate, fit, resolve_precision, suggested_config


def tiny_spec(input_shape, num_classes, batchnorm=True):
    layers = [layer("conv2d", out_channels=8, kernel_size=3, padding=1)]
    layers += [layer("batchnorm2d")] if batchnorm else []
    layers += [layer("relu"), layer("maxpool2d", kernel_size=2), layer("flatten"), layer("linear", out_features=num_classes)]
    return ModelSpec(tuple(input_shape), num_classes, tuple(layers))


@pytest.fixture(scope="module")
def tiny_shapes():
    return make_dataset(DataConfig(n_per_class=30, size=16))


def metrics(run):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in run.history]


def test_loss_falls_and_validation_accuracy_reaches_095_on_default_shapes():
    ds = make_dataset(DataConfig())  # 4 × 250 images of 32×32, noise 0.1
    run = fit(tiny_spec(ds.input_shape, ds.num_classes), ds, TrainConfig(epochs=3, lr=3e-3), device="cpu")
    losses = [h["train_loss"] for h in run.history]
    assert losses[-1] < losses[0] / 2
    assert run.summary["val_acc"] >= 0.95
    assert run.summary["status"] == "completed" and run.summary["epochs_run"] == 3


def test_digits_reach_095_validation_accuracy_within_a_few_epochs():
    ds = make_dataset(DataConfig(dataset="digits", n_per_class=1000))
    run = fit(network("digits_small", ds.input_shape, ds.num_classes), ds, TrainConfig(epochs=5, step_size=4), device="cpu")
    assert run.summary["val_acc"] >= 0.95
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


def test_same_seed_gives_the_same_metrics_and_weights(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    cfg = TrainConfig(epochs=2, hflip=True, rotation=10.0, seed=7)
    a, b = fit(spec, tiny_shapes, cfg, device="cpu"), fit(spec, tiny_shapes, cfg, device="cpu")
    assert metrics(a) == metrics(b)
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    c = fit(spec, tiny_shapes, TrainConfig(epochs=2, hflip=True, rotation=10.0, seed=8), device="cpu")
    assert not torch.equal(a.state_dict["conv1.weight"], c.state_dict["conv1.weight"])


def test_run_records_history_summary_and_config(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    cfg = TrainConfig(epochs=2, precision="fp32")
    run = fit(spec, tiny_shapes, cfg, device="cpu")
    assert set(run.history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
    assert {"val_acc", "val_loss", "epochs_run", "train_seconds", "device", "params", "status", "reason"} <= set(run.summary)
    assert run.summary["params"] == sum(p.numel() for p in build_model(spec).parameters())
    assert run.train_config == cfg.to_dict() and run.data_config == tiny_shapes.config
    assert all(t.is_contiguous() and t.device.type == "cpu" for t in run.state_dict.values())


def test_evaluate_matches_a_plain_torch_forward_pass(tiny_shapes):
    torch.manual_seed(0)
    model = build_model(tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)).eval()
    images, labels = (torch.as_tensor(a) for a in tiny_shapes.split("train"))
    loss, acc = evaluate(model, images, labels, batch_size=7)  # batches that don't divide the split
    with torch.no_grad():
        logits = model(images)
    assert loss == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == labels).float().mean().item())


def test_step_and_cosine_schedules_follow_their_formulas(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    step = fit(spec, tiny_shapes, TrainConfig(epochs=5, lr=0.01, step_size=2, gamma=0.5), device="cpu")
    assert [h["lr"] for h in step.history] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    cosine = fit(spec, tiny_shapes, TrainConfig(epochs=4, lr=0.01, schedule="cosine"), device="cpu")
    expected = [0.005 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [h["lr"] for h in cosine.history] == pytest.approx(expected)


def test_divergent_learning_rate_stops_with_a_clear_reason(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes, batchnorm=False)
    run = fit(spec, tiny_shapes, TrainConfig(optimizer="sgd", lr=1e12, epochs=5, precision="fp32"), device="cpu")
    assert run.summary["status"] == "diverged"
    assert DIVERGED in run.summary["reason"] and "smaller learning rate" in run.summary["reason"]
    assert all(torch.isfinite(t).all() for t in run.state_dict.values())  # the last finite weights are kept


def test_stop_signal_ends_the_run_and_keeps_the_partial_model(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    torch.manual_seed(0)
    initial = build_model(spec).state_dict()["conv1.weight"]
    stop = threading.Event()
    steps = []

    def on_batch(done, total):
        steps.append(done)
        if len(steps) == 3:
            stop.set()

    run = fit(spec, tiny_shapes, TrainConfig(epochs=50, batch_size=8), device="cpu", stop=stop, on_batch=on_batch)
    assert run.summary["status"] == "stopped" and len(steps) == 3 and run.summary["epochs_run"] == 0
    assert not torch.equal(run.state_dict["conv1.weight"], initial)  # three updates were made and kept
    assert 0 <= run.summary["val_acc"] <= 1


def test_early_stopping_keeps_the_best_epoch(tiny_shapes, monkeypatch):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    scripted = iter([0.9, 0.5, 0.6, 0.7, 0.8, 0.4])  # best at epoch 2, then two epochs without progress
    monkeypatch.setattr(train_mod, "evaluate", lambda *a, **k: (next(scripted), 0.5))
    run = fit(spec, tiny_shapes, TrainConfig(epochs=10, patience=2), device="cpu")
    assert run.summary["status"] == "early stopping" and "kept epoch 2" in run.summary["reason"]
    assert run.summary["epochs_run"] == 4


def test_augmentation_changes_images_but_not_their_shape():
    images = torch.rand(12, 3, 16, 16)
    cfg = TrainConfig(rotation=30.0, translate=0.2, crop_scale=0.5, color_jitter=0.3, hflip=True)
    out = make_augment(cfg, (3, 16, 16))(images)
    assert out.shape == images.shape and not torch.equal(out, images)
    assert make_augment(TrainConfig(), (3, 16, 16)) is None
    grey = make_augment(TrainConfig(color_jitter=0.3), (1, 8, 8))(torch.rand(5, 1, 8, 8))  # no saturation in grey
    assert grey.shape == (5, 1, 8, 8)


def test_horizontal_flip_mirrors_each_group_or_leaves_it():
    torch.manual_seed(1)
    images = torch.rand(64, 1, 8, 8)
    out = make_augment(TrainConfig(hflip=True), (1, 8, 8))(images)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    kept = [torch.equal(o, i) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


@pytest.mark.parametrize("field, value, words", [
    ("lr", 0.0, "learning rate"), ("optimizer", "rmsprop", "expected one of sgd, adam, adamw"),
    ("schedule", "linear", "unknown schedule"), ("batch_size", 0, "batch size"), ("epochs", 0, "epochs"),
    ("crop_scale", 0.0, "crop scale"), ("label_smoothing", 1.0, "label smoothing"),
])  # fmt: skip
def test_bad_settings_raise_clear_errors(field, value, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**{field: value})


def test_a_model_for_other_images_is_refused(tiny_shapes):
    with pytest.raises(ValueError, match="spec.with_io"):
        fit(tiny_spec((1, 8, 8), 10), tiny_shapes, TrainConfig(epochs=1), device="cpu")


def test_config_round_trips_through_json_and_defaults_suit_the_dataset():
    cfg = TrainConfig(optimizer="adamw", hflip=True, rotation=5.0)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert suggested_config(DataConfig()).epochs <= 30
    assert suggested_config(DataConfig(n_per_class=5000, size=16)).epochs < suggested_config(DataConfig()).epochs


def test_precision_auto_resolves_to_a_concrete_choice():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) in ("fp32", "bf16")
    assert resolve_precision("auto", torch.device("mps")) == "fp32"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn(tiny_shapes, precision):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    run = fit(spec, tiny_shapes, TrainConfig(epochs=4, lr=3e-3, precision=precision), device="cpu")
    assert run.summary["precision"] == precision
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine: the CUDA path is not exercised")
def test_cuda_path_trains_and_returns_cpu_weights(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)
    run = fit(spec, tiny_shapes, TrainConfig(epochs=3, lr=3e-3), device="cuda")
    assert run.summary["device"] == "cuda" and run.summary["status"] == "completed"
    assert all(t.device.type == "cpu" for t in run.state_dict.values())
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]
    model = run.build("cpu")  # the weights work on the CPU: same accuracy as measured on the GPU
    images, labels = (torch.as_tensor(np.asarray(a)) for a in tiny_shapes.split("val"))
    assert evaluate(model, images, labels)[1] == pytest.approx(run.summary["val_acc"], abs=1 / len(labels) + 1e-9)
