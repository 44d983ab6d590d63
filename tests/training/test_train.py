"""The training engine: learning, determinism, schedules, optimizers, divergence, stopping, precision."""

import math
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer
from cnn_core.nets.presets import network
from cnn_core.nets.spec import ModelSpec
from cnn_core.training import engine as train_mod
from cnn_core.training import outcome
from cnn_core.training.config import TrainConfig, suggested_config
from cnn_core.training.device import cpu_has_native_bf16
from cnn_core.training.engine import evaluate, fit, make_optimizer, resolve_precision, steps_per_epoch  # fmt: skip

pytestmark = pytest.mark.usefixtures("torch_state_untouched")


def tiny_spec(input_shape, num_classes, batchnorm=True):
    layers = [layer("conv2d", out_channels=8, kernel_size=3, padding=1)]
    layers += [layer("batchnorm2d")] if batchnorm else []
    layers += [layer("relu"), layer("maxpool2d", kernel_size=2), layer("flatten"), layer("linear", out_features=num_classes)]
    return ModelSpec(tuple(input_shape), num_classes, tuple(layers))


@pytest.fixture(scope="module")
def tiny_shapes():
    return make_dataset(DataConfig(n_per_class=30, size=16))


@pytest.fixture(scope="module")
def spec(tiny_shapes):
    return tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes)


def metrics(run):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in run.history]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def initial_weights(spec, seed=0):
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in build_model(spec).state_dict().items()}


# ---------------------------------------------------------------- learning and determinism


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
    assert run.summary["val_acc"] >= 0.95 and run.summary["status"] == "completed"
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


def test_same_seed_gives_the_same_metrics_and_weights(tiny_shapes, spec):
    cfg = TrainConfig(epochs=2, hflip=True, rotation=10.0, seed=7)
    a, b = fit(spec, tiny_shapes, cfg, device="cpu"), fit(spec, tiny_shapes, cfg, device="cpu")
    assert metrics(a) == metrics(b) and same_weights(a.state_dict, b.state_dict)
    c = fit(spec, tiny_shapes, TrainConfig(epochs=2, hflip=True, rotation=10.0, seed=8), device="cpu")
    assert not torch.equal(a.state_dict["conv1.weight"], c.state_dict["conv1.weight"])


def test_a_run_leaves_the_global_random_stream_to_its_seed_alone(tiny_shapes, spec):
    """Shuffling and augmentation draw from the run's own generators: the global stream sees only the seeding."""
    cfg = TrainConfig(epochs=1, hflip=True, rotation=10.0, seed=3)
    fit(spec, tiny_shapes, cfg, device="cpu")
    after_run = torch.rand(3)
    torch.manual_seed(3)
    build_model(spec)  # what the run draws from the global stream: its initial weights (no dropout here)
    assert torch.equal(torch.rand(3), after_run)


def test_run_records_history_summary_and_config(tiny_shapes, spec):
    cfg = TrainConfig(epochs=2, precision="fp32")
    run = fit(spec, tiny_shapes, cfg, device="cpu")
    assert set(run.history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
    assert {"val_acc", "val_loss", "epochs_run", "train_seconds", "device", "params", "status", "reason"} <= set(run.summary)
    assert run.summary["params"] == sum(p.numel() for p in build_model(spec).parameters())
    assert run.train_config == cfg.to_dict() and run.data_config == tiny_shapes.config
    assert all(t.is_contiguous() and t.device.type == "cpu" for t in run.state_dict.values())


def test_evaluate_matches_a_plain_torch_forward_pass(tiny_shapes, spec):
    torch.manual_seed(0)
    model = build_model(spec).eval()
    images, labels = (torch.as_tensor(a) for a in tiny_shapes.split("train"))
    loss, acc = evaluate(model, images, labels, batch_size=7)  # batches that don't divide the split
    with torch.no_grad():
        logits = model(images)
    assert loss == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == labels).float().mean().item())


def test_label_smoothing_changes_the_training_loss_by_torchs_formula(tiny_shapes, spec):
    """One batch holding the whole split: epoch 1's loss is the initial model's, before its only step."""
    n = len(tiny_shapes.splits["train"])
    cfg = TrainConfig(epochs=1, batch_size=n, label_smoothing=0.2, precision="fp32", schedule="none")
    run = fit(spec, tiny_shapes, cfg, device="cpu")
    model = build_model(spec).train()
    model.load_state_dict(initial_weights(spec))
    images, labels = (torch.as_tensor(a) for a in tiny_shapes.split("train"))
    with torch.no_grad():
        logp = model(images).log_softmax(1)  # batch norm in training mode: statistics of the whole batch, as in the run
    k, eps = tiny_shapes.num_classes, 0.2
    by_hand = ((1 - eps) * -logp.gather(1, labels[:, None]).squeeze(1) - eps / k * logp.sum(1)).mean().item()
    hard = F.nll_loss(logp, labels).item()
    assert run.history[0]["train_loss"] == pytest.approx(by_hand, rel=1e-4) and by_hand != pytest.approx(hard, rel=1e-3)


# ---------------------------------------------------------------- schedules and optimizers


def test_step_and_cosine_schedules_follow_their_formulas(tiny_shapes, spec):
    step = fit(spec, tiny_shapes, TrainConfig(epochs=5, lr=0.01, step_size=2, gamma=0.5), device="cpu")
    assert [h["lr"] for h in step.history] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    cosine = fit(spec, tiny_shapes, TrainConfig(epochs=4, lr=0.01, schedule="cosine"), device="cpu")
    expected = [0.005 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [h["lr"] for h in cosine.history] == pytest.approx(expected)


def test_one_cycle_steps_after_every_batch(tiny_shapes, spec):
    """OneCycleLR (max 0.01, 30% warm-up, cosine both ways, start at max/25, end at start/1e4) read at each epoch's start."""
    cfg = TrainConfig(epochs=4, lr=0.01, schedule="one_cycle", batch_size=16)
    run = fit(spec, tiny_shapes, cfg, device="cpu")
    steps = steps_per_epoch(len(tiny_shapes.splits["train"]), 16)
    total, peak, low, floor = 4 * steps, 0.01, 0.01 / 25, 0.01 / 25 / 1e4
    up = 0.3 * total - 1

    def lr(t):
        if t <= up:
            return low + (peak - low) * (1 - math.cos(math.pi * t / up)) / 2
        return floor + (peak - floor) * (1 + math.cos(math.pi * (t - up) / (total - 1 - up))) / 2

    assert [h["lr"] for h in run.history] == pytest.approx([lr(e * steps) for e in range(4)], rel=1e-6)


def test_the_step_schedule_follows_the_epochs_unless_set():
    assert [TrainConfig(epochs=e).step_size for e in (1, 10, 30, 40)] == [1, 4, 10, 14]
    assert TrainConfig(epochs=40, step_size=6).step_size == 6
    assert TrainConfig(epochs=30) == TrainConfig(epochs=30, step_size=10)  # one config, one key


def test_sgd_uses_nesterov_momentum_and_learns(tiny_shapes, spec):
    cfg = TrainConfig(optimizer="sgd", lr=0.05, momentum=0.8, weight_decay=0.0, epochs=3)
    group = make_optimizer(build_model(spec), cfg).param_groups[0]
    assert (group["nesterov"], group["momentum"], group["lr"]) == (True, 0.8, 0.05)
    # Nesterov by hand, two steps on f(w) = w²/2 (gradient w): v ← μv + g, w ← w − lr (g + μv).
    w = torch.nn.Linear(1, 1, bias=False)
    w.weight.data.fill_(1.0)
    opt = make_optimizer(w, cfg)
    expected, v = 1.0, 0.0
    for _ in range(2):
        opt.zero_grad()
        (w.weight**2 / 2).sum().backward()
        opt.step()
        g = expected
        v = 0.8 * v + g
        expected -= 0.05 * (g + 0.8 * v)
    assert w.weight.item() == pytest.approx(expected, rel=1e-6)
    run = fit(spec, tiny_shapes, cfg, device="cpu")
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"] and run.summary["status"] == "completed"


def test_adamw_decays_the_weights_apart_from_the_gradient():
    """With a zero gradient AdamW shrinks each weight by lr × wd; Adam (decay added to the gradient) moves it by ~lr."""
    def one_step(optimizer):
        model = torch.nn.Linear(1, 1, bias=False)
        model.weight.data.fill_(2.0)
        opt = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=0.1, weight_decay=0.01))
        model.weight.grad = torch.zeros_like(model.weight)
        opt.step()
        return model.weight.item()

    assert one_step("adamw") == pytest.approx(2.0 * (1 - 0.1 * 0.01), rel=1e-6)
    assert one_step("adam") == pytest.approx(2.0 - 0.1, rel=1e-4)


def test_a_lone_last_image_is_left_out_of_the_epoch():
    assert [steps_per_epoch(n, 32) for n in (1, 31, 32, 33, 34, 64, 65)] == [1, 1, 1, 1, 2, 2, 2]
    ds = make_dataset(DataConfig(n_per_class=22, size=16, val_fraction=0.2, test_fraction=0.0))
    assert len(ds.splits["train"]) == 72  # batches of 71 leave a lone image, which batch norm can't train on
    totals = []
    run = fit(tiny_spec(ds.input_shape, ds.num_classes), ds, TrainConfig(epochs=2, batch_size=71, schedule="one_cycle"),
              device="cpu", on_batch=lambda done, total: totals.append(total))  # fmt: skip
    assert run.summary["epochs_run"] == 2 and totals == [1, 1]


# ---------------------------------------------------------------- how runs end


def test_divergent_learning_rate_stops_with_a_clear_reason(tiny_shapes):
    spec = tiny_spec(tiny_shapes.input_shape, tiny_shapes.num_classes, batchnorm=False)
    run = fit(spec, tiny_shapes, TrainConfig(optimizer="sgd", lr=1e12, epochs=5, precision="fp32"), device="cpu")
    assert run.summary["status"] == "diverged" and run.summary["epochs_run"] == 0
    assert outcome.DIVERGED in run.summary["reason"] and "kept the initial weights" in run.summary["reason"]
    assert same_weights(run.state_dict, initial_weights(spec))


def scripted(monkeypatch, name, values):
    """Replace train_mod.<name> by the real function whose result is swapped for the next scripted value (None: keep)."""
    real, script = getattr(train_mod, name), iter(values)

    def wrapper(*args, **kwargs):
        result, value = real(*args, **kwargs), next(script, None)
        return result if value is None else value(result)

    monkeypatch.setattr(train_mod, name, wrapper)


def test_a_nan_validation_loss_with_a_finite_training_loss_is_divergence(tiny_shapes, spec, monkeypatch):
    cfg = TrainConfig(epochs=5, schedule="none")
    two_epochs = fit(spec, tiny_shapes, TrainConfig(epochs=2, schedule="none"), device="cpu")
    nan_val = lambda result: (math.nan, result[1])
    scripted(monkeypatch, "evaluate", [None, None, nan_val])  # epochs 1 and 2 as they are, then a NaN in epoch 3
    run = fit(spec, tiny_shapes, cfg, device="cpu")
    assert run.summary["status"] == "diverged" and "validation loss in epoch 3" in run.summary["reason"]
    assert run.summary["epochs_run"] == 2 and same_weights(run.state_dict, two_epochs.state_dict)
    assert math.isfinite(run.summary["val_loss"])


def test_a_nan_training_loss_keeps_the_last_good_epoch(tiny_shapes, spec, monkeypatch):
    two_epochs = fit(spec, tiny_shapes, TrainConfig(epochs=2, schedule="none"), device="cpu")
    scripted(monkeypatch, "train_epoch", [None, None, lambda r: (math.inf, r[1], r[2])])  # epoch 3 really trains, then "diverges"
    run = fit(spec, tiny_shapes, TrainConfig(epochs=5, schedule="none"), device="cpu")
    assert run.summary["status"] == "diverged" and "training loss in epoch 3" in run.summary["reason"]
    assert "kept the weights of epoch 2" in run.summary["reason"] and same_weights(run.state_dict, two_epochs.state_dict)


@pytest.mark.parametrize("patience", [1, 2])
def test_divergence_under_early_stopping_never_reaches_a_missing_best_state(tiny_shapes, spec, monkeypatch, patience):
    scripted(monkeypatch, "evaluate", [lambda r: (math.nan, r[1])])  # the very first epoch's validation is NaN
    run = fit(spec, tiny_shapes, TrainConfig(epochs=5, patience=patience), device="cpu")
    assert run.summary["status"] == "diverged" and same_weights(run.state_dict, initial_weights(spec))


def test_stop_signal_ends_the_run_and_keeps_the_partial_model(tiny_shapes, spec):
    def stopped_after(n_batches):
        stop, steps = threading.Event(), []

        def on_batch(done, total):
            steps.append(done)
            if len(steps) == n_batches:
                stop.set()

        run = fit(spec, tiny_shapes, TrainConfig(epochs=50, batch_size=8), device="cpu", stop=stop, on_batch=on_batch)
        assert run.summary["status"] == "stopped" and len(steps) == n_batches and run.summary["epochs_run"] == 0
        return run

    three, three_again, four = stopped_after(3), stopped_after(3), stopped_after(4)
    assert same_weights(three.state_dict, three_again.state_dict)  # exactly the three updates, every time
    assert not same_weights(three.state_dict, four.state_dict) and not same_weights(three.state_dict, initial_weights(spec))
    images, labels = (torch.as_tensor(a) for a in tiny_shapes.split("val"))
    assert three.summary["val_acc"] == pytest.approx(evaluate(three.build("cpu"), images, labels)[1])


def test_early_stopping_keeps_the_best_epochs_weights(tiny_shapes, spec, monkeypatch):
    two_epochs = fit(spec, tiny_shapes, TrainConfig(epochs=2, schedule="none"), device="cpu")
    losses = [0.9, 0.5, 0.6, 0.7, 0.8]  # best at epoch 2, then two epochs without progress
    scripted(monkeypatch, "evaluate", [lambda r, v=v: (v, r[1]) for v in losses])
    run = fit(spec, tiny_shapes, TrainConfig(epochs=10, patience=2, schedule="none"), device="cpu")
    assert run.summary["status"] == "early stopping" and "kept epoch 2" in run.summary["reason"]
    assert run.summary["epochs_run"] == 4 and same_weights(run.state_dict, two_epochs.state_dict)


def test_a_run_whose_loss_explodes_is_unstable_not_a_success(tiny_shapes):
    simple_cnn = network("simple_cnn", tiny_shapes.input_shape, tiny_shapes.num_classes)
    run = fit(simple_cnn, tiny_shapes, TrainConfig(epochs=3, lr=10.0), device="cpu")  # Adam at lr 10
    assert run.summary["status"] == "unstable" and "learning rate is probably too large" in run.summary["reason"]
    assert "rose from" in run.summary["reason"]


def test_a_run_at_chance_level_is_unstable(tiny_shapes, spec):
    run = fit(spec, tiny_shapes, TrainConfig(optimizer="sgd", lr=1e-9, epochs=2), device="cpu")
    assert run.summary["status"] == "unstable" and "chance level" in run.summary["reason"]
    assert "too small" in run.summary["reason"]


@pytest.mark.parametrize("val_acc, losses, expected", [
    (0.9, [1.0, 0.5], None),  # learned
    (0.9, [2.0, 2.5], "rose from about 1.39 (a uniform guess, where training starts) to 2.5"),  # whatever the accuracy
    (0.34, [1.0, 0.4], None),  # above the bar: 25% + 2 × √(0.25 × 0.75 / 100) = 33.66%
    (0.33, [1.0, 0.4], "memorises"),  # at chance, though the training loss fell
    (0.25, [30.0, 1.0], "jumped to 30"),
    (0.25, [1.39, 1.38], "stayed near 1.39: the learning rate is probably too small"),
])  # fmt: skip
def test_learned_nothing_by_hand(val_acc, losses, expected):
    labels = np.repeat(np.arange(4), 25)  # 100 validation images, majority share 0.25
    verdict = outcome.learned_nothing(4, [{"train_loss": v} for v in losses], val_acc, labels)  # ln 4 = 1.39
    assert verdict is None if expected is None else expected in verdict


def test_chance_level_is_the_majority_share_plus_two_standard_errors():
    p, bar = outcome.chance_level(np.array([0] * 60 + [1] * 20 + [2] * 20))
    assert p == 0.6 and bar == pytest.approx(0.6 + 2 * math.sqrt(0.6 * 0.4 / 100))


def test_a_model_for_other_images_is_refused(tiny_shapes):
    with pytest.raises(ValueError, match="spec.with_io"):
        fit(tiny_spec((1, 8, 8), 10), tiny_shapes, TrainConfig(epochs=1), device="cpu")


# ---------------------------------------------------------------- defaults and precision


def test_suggested_defaults_are_ten_epochs_on_small_data_and_five_on_big():
    small, big = suggested_config(DataConfig()), suggested_config(DataConfig(n_per_class=5000, size=16))
    assert (small.epochs, small.step_size) == (10, 4) and (big.epochs, big.step_size) == (5, 2)
    assert small == TrainConfig(epochs=10)  # otherwise the classic recipe's settings


@pytest.mark.parametrize("flags, native", [
    ("fpu vme avx2 avx512f avx512_bf16 amx_tile", True), ("fpu avx2 amx_bf16 amx_tile", True),
    ("fpu vme avx2 avx512f avx512bw", False), ("", False),
])  # fmt: skip
def test_native_bf16_is_read_from_the_cpu_flags(flags, native):
    assert cpu_has_native_bf16(f"processor\t: 0\nflags\t\t: {flags}\n") is native


def test_precision_auto_is_bf16_exactly_where_the_cpu_has_it():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    reference = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # torch's own (private) probe, as a reference
    if reference is None:
        pytest.skip("this torch has no bf16 probe to compare with")
    native = reference() or torch.cpu._is_amx_tile_supported()
    assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn(tiny_shapes, spec, precision):
    run = fit(spec, tiny_shapes, TrainConfig(epochs=4, lr=3e-3, precision=precision), device="cpu")
    assert run.summary["precision"] == precision
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine: the CUDA path is not exercised")
def test_cuda_path_trains_and_returns_cpu_weights(tiny_shapes, spec):
    run = fit(spec, tiny_shapes, TrainConfig(epochs=3, lr=3e-3), device="cuda")
    assert run.summary["device"] == "cuda" and run.summary["status"] == "completed"
    assert all(t.device.type == "cpu" for t in run.state_dict.values())
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]
    model = run.build("cpu")  # the weights work on the CPU: same accuracy as measured on the GPU
    images, labels = (torch.as_tensor(np.asarray(a)) for a in tiny_shapes.split("val"))
    assert evaluate(model, images, labels)[1] == pytest.approx(run.summary["val_acc"], abs=1 / len(labels) + 1e-9)


def test_six_validation_images_are_too_few_to_call_67_percent_chance():
    labels = np.array([0, 0, 1, 1, 2, 2])  # majority 33 %; the bar 33 % + 2 × √(1/3 × 2/3 / 6) = 72 %
    losses = [{"train_loss": v} for v in (1.1, 0.3)]
    assert outcome.learned_nothing(3, losses, 4 / 6, labels) is None
    note = outcome.too_few_to_judge(labels, 4 / 6)
    assert note.startswith("6 validation images are too few to judge: 67% beats the 33%") and "above 72%" in note
    assert outcome.too_few_to_judge(labels, 1.0) is None and outcome.too_few_to_judge(labels, 1 / 3) is None
    assert outcome.too_few_to_judge(np.repeat(np.arange(3), 20), 0.4) is None  # 60 images: judged as before
    assert "chance level" in outcome.learned_nothing(3, [{"train_loss": 1.1}] * 2, 4 / 6, labels)  # nothing learned


def test_small_data_gets_smaller_batches_and_at_least_min_steps():
    from cnn_core.training.config import MIN_STEPS

    faces = DataConfig(dataset="folder", classes=("happy", "sad"), n_per_class=24, digest="0" * 32)
    cfg = suggested_config(faces)  # 48 images: 34 to train on
    assert cfg.batch_size == 8 and cfg.epochs * math.ceil(34 / 8) >= MIN_STEPS and cfg.epochs <= 100
    assert suggested_config(DataConfig()) == TrainConfig(epochs=10)  # the classic task's defaults are unchanged


@pytest.mark.parametrize("test_fraction", [0.2, 0.0])
def test_a_finished_run_reports_its_last_validation_without_measuring_it_again(spec, monkeypatch, test_fraction):
    """One validation pass per epoch and none after: the weights kept are those the last epoch measured; without test
    images the fp32 held-out score is that same pass, with them one pass over the test images."""
    data = make_dataset(DataConfig(n_per_class=30, size=16, test_fraction=test_fraction))
    calls = []
    scripted(monkeypatch, "evaluate", [lambda r: calls.append(r) or r] * 10)
    run = fit(spec, data, TrainConfig(epochs=3, precision="fp32"), device="cpu")
    assert len(calls) == 3 + (test_fraction > 0) and run.summary["test_split"] == ("test" if test_fraction else "val")
    last = run.history[-1]
    assert (run.summary["val_loss"], run.summary["val_acc"]) == (last["val_loss"], last["val_acc"])
    assert run.summary["test_acc"] == (calls[-1][1] if test_fraction else last["val_acc"])
    images, labels = (torch.as_tensor(a) for a in data.split("val"))
    loss, acc = evaluate(run.build("cpu"), images, labels)  # the kept weights, measured afresh
    assert run.summary["val_loss"] == pytest.approx(loss, rel=1e-5) and run.summary["val_acc"] == acc
