"""Tiny runs for the cache, registry and executor tests: built by hand (no training) or as a request."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import torch

from cnn_core.data.config import DataConfig
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer
from cnn_core.nets.presets import network
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.request import TrainRequest
from cnn_core.training.config import TrainConfig
from cnn_core.training.run import TrainedRun, run_key

SPEC = ModelSpec((1, 8, 8), 3, (layer("conv2d", out_channels=4), layer("relu"), layer("flatten"),
                                layer("linear", out_features=3)))  # fmt: skip
DATA = DataConfig(dataset="digits", classes=("0", "1", "2"), n_per_class=20)
# What the executor tests train: synthetic shapes, small, so that a fresh worker spends its start on torch
# alone (the digits would import scikit-learn in every worker first: about 2 s of CPU each).
TRAIN_DATA = DataConfig(dataset="shapes", classes=("circle", "square", "cross"), n_per_class=30, size=16)
TRAIN_INPUT = (3, 16, 16)


def tiny_request(epochs: int = 2, seed: int = 0, **kw) -> TrainRequest:
    """A run of a few seconds on the CPU (epochs=1000: one that goes on until it is stopped)."""
    spec = network("digits_small", TRAIN_INPUT, 3)
    return TrainRequest(TRAIN_DATA, spec, TrainConfig(epochs=epochs, batch_size=16, seed=seed), device="cpu", **kw)


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


# ---------------------------------------------------------------- fault injection on worker processes (Linux /proc)


def worker_pids() -> list[int]:
    """This process's training workers, found as an operator would: by their command line."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):  # not a process, or gone meanwhile
            continue
        if stat[0] != "Z" and int(stat[1]) == os.getpid() and b"cnn_core.runs.worker" in command:
            pids.append(int(proc.name))
    return sorted(pids)


def dead(pid: int) -> bool:
    """Whether every thread of the process has ended (its first one stays a zombie until its parent reaps it)."""
    try:
        return all(stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX" for stat in Path(f"/proc/{pid}/task").glob("*/stat"))
    except OSError:
        return True


def kill_9(pids: list[int]) -> None:
    """SIGKILL, as the out-of-memory killer sends it; returns once each has ended."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    while not all(map(dead, pids)):
        threading.Event().wait(0.05)
