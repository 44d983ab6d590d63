"""Tiny runs for the cache, registry and executor tests: built by hand (no training) or as a request."""

from __future__ import annotations

import torch

from cnn_core.data.config import DataConfig
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer
from cnn_core.nets.spec import ModelSpec
from cnn_core.training.config import TrainConfig
from cnn_core.training.run import TrainedRun, run_key

SPEC = ModelSpec((1, 8, 8), 3, (layer("conv2d", out_channels=4), layer("relu"), layer("flatten"),
                                layer("linear", out_features=3)))  # fmt: skip
DATA = DataConfig(dataset="digits", classes=("0", "1", "2"), n_per_class=20)


def make_run(seed: int = 0, status: str = "completed", val_acc: float = 0.4) -> TrainedRun:
    """A run of the tiny spec whose weights are the seed's initial ones, as if trained for one epoch."""
    cfg = TrainConfig(epochs=1, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
             for k, v in build_model(SPEC).state_dict().items()}  # fmt: skip
    history = [dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=val_acc, lr=1e-3, seconds=0.1)]
    summary = dict(val_acc=val_acc, val_loss=1.1, epochs_run=1, train_seconds=0.1, device="cpu", params=1,
                   status=status, reason="trained all 1 epoch")  # fmt: skip
    return TrainedRun(SPEC, DATA, cfg.to_dict(), state, history, summary, run_key(DATA, SPEC, cfg))


def same_weights(a: TrainedRun, b: TrainedRun) -> bool:
    return a.state_dict.keys() == b.state_dict.keys() and all(torch.equal(a.state_dict[k], b.state_dict[k])
                                                              for k in a.state_dict)  # fmt: skip


def put_many(folder: str, first_seed: int, n: int) -> None:
    """Register n runs (seeds first_seed…): a writer process of the concurrency test."""
    from cnn_core.runs.registry import RunRegistry

    registry = RunRegistry(folder)
    for seed in range(first_seed, first_seed + n):
        registry.put(make_run(seed), who=f"writer-{first_seed}")
