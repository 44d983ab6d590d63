"""Where training runs: `make_executor` picks the back end (a Ray cluster if `$CNN_LAB_RAY_ADDRESS` names one,
else the local process pool); `train_to_end` trains one request on it and waits; `train_here` trains one request in
this process (the CLI's single run: no worker to start); `train_one` picks between the last two."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
from collections.abc import Callable, Iterator

from cnn_core.runs.local import LocalExecutor
from cnn_core.runs.ray_executor import RAY_ADDRESS_VAR, RayExecutor
from cnn_core.runs.request import POLL_EVERY, TrainRequest, train_run
from cnn_core.runs.resources import read_limits


def train_to_end(request: TrainRequest, on_epoch: Callable[[dict], None] | None = None, executor=None):
    """Train one request on `executor` (default: make_executor's, shut down after) and wait; (run, executor name).

    Epoch records go to `on_epoch` as they arrive; Ctrl-C stops the run and keeps the model trained so far (on Ray,
    a task that doesn't stop within seconds, one still waiting for a node, is cancelled); a second Ctrl-C abandons
    it at once (ValueError).
    """
    own = executor is None
    executor = make_executor(max_runs=1) if own else executor

    def report() -> None:
        for event in handle.poll():
            if event["kind"] == "epoch" and on_epoch is not None:
                on_epoch({k: v for k, v in event.items() if k != "kind"})

    try:
        handle = executor.submit(request)
        try:
            while not handle.wait(POLL_EVERY):
                report()
        except KeyboardInterrupt:
            handle.stop()
            try:
                handle.wait()
            except KeyboardInterrupt:
                raise ValueError("interrupted twice: the run was abandoned") from None
        report()
        return handle.result(), executor.name
    finally:
        if own:
            executor.shutdown()


def make_executor(max_runs: int | None = None, threads: int | None = None,
                  nice: int = 0) -> LocalExecutor | RayExecutor:  # fmt: skip
    """A RayExecutor if $CNN_LAB_RAY_ADDRESS is set (ValueError if it can't be reached), else a LocalExecutor.

    `threads` and `nice` size the local workers only: a cluster's nodes don't run the web server.
    """
    address = os.environ.get(RAY_ADDRESS_VAR, "").strip()
    return RayExecutor(address) if address else LocalExecutor(max_runs, threads, nice)


def train_one(request: TrainRequest, on_epoch: Callable[[dict], None] | None = None, dataset=None):
    """One run to its end, as the CLI trains it: on the Ray cluster at $CNN_LAB_RAY_ADDRESS when it is set, else in
    this process (`train_here`); (run, executor name: "ray" or "local")."""
    if os.environ.get(RAY_ADDRESS_VAR, "").strip():
        return train_to_end(request, on_epoch)
    return train_here(request, on_epoch, dataset), LocalExecutor.name


def train_here(request: TrainRequest, on_epoch: Callable[[dict], None] | None = None, dataset=None):
    """Train one request in this process and wait; `dataset`: the request's, if already built.

    A single run on this machine needs no worker process: no second interpreter, torch import and dataset build
    before it starts. This process's torch threads and random streams are as they were afterwards. Ctrl-C stops the
    run after its batch and keeps the model trained so far; a second Ctrl-C abandons it (ValueError).
    """
    interrupted: list[bool] = []

    def on_interrupt(signum, frame) -> None:
        if interrupted:
            raise ValueError("interrupted twice: the run was abandoned")
        interrupted.append(True)

    def emit(event: dict) -> None:
        if event["kind"] == "epoch" and on_epoch is not None:
            on_epoch({k: v for k, v in event.items() if k != "kind"})

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: Ctrl-C is not this run's to catch
        previous = None
    if not request.threads:  # the cores this process may use, as a local executor of one run gives its worker
        request = dataclasses.replace(request, threads=max(1, int(read_limits().cpus)))
    try:
        with _process_state_kept():
            return train_run(request, stop=lambda: bool(interrupted), emit=emit, dataset=dataset)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _process_state_kept() -> Iterator[None]:
    """Torch's thread count and the random streams (Python's, NumPy's, torch's) as they were, after the block."""
    import numpy as np
    import torch

    threads, states = torch.get_num_threads(), (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
