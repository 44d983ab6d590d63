"""Small trained models for the evaluation tests: a tiny training loop, not the app's training engine."""

from __future__ import annotations

import functools
import time

import numpy as np
import torch

from cnn_core.checkpoint import TrainedRun
from cnn_core.data import DataConfig, make_dataset
from cnn_core.spec import ModelSpec, build_model, layer, preset


@functools.lru_cache(maxsize=4)
def trained_run(data_config: DataConfig = DataConfig(dataset="digits"), spec_name: str = "digits_small",
                epochs: int = 3, seed: int = 0) -> TrainedRun:  # fmt: skip
    """Train a preset with Adam for a few epochs and wrap it as the Training page would."""
    ds = make_dataset(data_config)
    spec = preset(spec_name, ds.input_shape, ds.num_classes)
    torch.manual_seed(seed)
    model = build_model(spec)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x_train, y_train = (torch.from_numpy(a.copy()) for a in ds.split("train"))
    x_val, y_val = (torch.from_numpy(a.copy()) for a in ds.split("val"))
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(y_train))
        losses, correct = [], 0
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            scores = model(x_train[idx])
            loss = torch.nn.functional.cross_entropy(scores, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item() * len(idx))
            correct += int((scores.argmax(1) == y_train[idx]).sum())
        model.eval()
        with torch.no_grad():
            val_scores = model(x_val)
        history.append({
            "epoch": epoch, "train_loss": sum(losses) / len(order), "train_acc": correct / len(order),
            "val_loss": float(torch.nn.functional.cross_entropy(val_scores, y_val)),
            "val_acc": float((val_scores.argmax(1) == y_val).float().mean()), "lr": 3e-3,
            "seconds": time.perf_counter() - start,
        })  # fmt: skip
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    train_config = {"epochs": epochs, "optimizer": "adam", "lr": 3e-3, "batch_size": 64, "seed": seed}
    summary = {"val_acc": history[-1]["val_acc"], "val_loss": history[-1]["val_loss"], "epochs_run": epochs}
    key = f"test-{data_config.key()}-{spec.key()}-{epochs}-{seed}"
    return TrainedRun(spec, data_config, train_config, state, history, summary, key)


def region_model():
    """A hand-set net on 3×16×16 images: class 1's score is the mean of a channel that sees red, class 0's of
    one that sees green. No training: what decides each class is known exactly."""
    spec = ModelSpec((3, 16, 16), 2, (
        layer("conv2d", out_channels=2, kernel_size=3, padding=1), layer("relu"),
        layer("adaptiveavgpool2d", output_size=1), layer("flatten"), layer("linear", out_features=2),
    ))  # fmt: skip
    model = build_model(spec)
    with torch.no_grad():
        conv, head = model[0], model[4]
        conv.weight.zero_()
        conv.weight[0, :, 1, 1] = torch.tensor([1.0, -1.0, -1.0])  # channel 0: red, not white
        conv.weight[1, :, 1, 1] = torch.tensor([-1.0, 1.0, -1.0])  # channel 1: green, not white
        conv.bias.zero_()
        head.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # class 0 ← green, class 1 ← red
        head.bias.zero_()
    return spec, model.eval()


def blob_image(red_at: tuple[int, int] = (3, 3), green_at: tuple[int, int] = (12, 12), radius: int = 2) -> np.ndarray:
    """A 3×16×16 black image with a red disc and a green disc centred at the given (row, col)."""
    image = np.zeros((3, 16, 16), np.float32)
    yy, xx = np.mgrid[0:16, 0:16]
    for channel, (r, c) in ((0, red_at), (1, green_at)):
        image[channel][(yy - r) ** 2 + (xx - c) ** 2 <= radius**2] = 1.0
    return image
