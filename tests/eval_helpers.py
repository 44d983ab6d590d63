"""Small trained models for the evaluation tests, and hand-set ones whose answers are known exactly."""

from __future__ import annotations

import functools

import numpy as np
import torch

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer
from cnn_core.nets.presets import network
from cnn_core.nets.spec import ModelSpec
from cnn_core.training.config import TrainConfig
from cnn_core.training.engine import fit
from cnn_core.training.run import TrainedRun


@functools.lru_cache(maxsize=4)
def trained_run(data_config: DataConfig = DataConfig(dataset="digits"),  # noqa: B008 - frozen, so safe
                spec_name: str = "digits_small",
                epochs: int = 3, seed: int = 0) -> TrainedRun:  # fmt: skip
    """A preset trained for a few epochs by the app's own engine, as the Training page would."""
    ds = make_dataset(data_config)
    spec = network(spec_name, ds.input_shape, ds.num_classes)
    cfg = TrainConfig(lr=3e-3, batch_size=64, epochs=epochs, schedule="none", precision="fp32", seed=seed)
    return fit(spec, ds, cfg, device="cpu")


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
