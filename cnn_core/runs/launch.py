"""Where training runs: `make_executor` picks the back end (a Ray cluster if `$CNN_LAB_RAY_ADDRESS` names one,
else the local process pool); `train_to_end` trains one request on it and waits."""

from __future__ import annotations

import os
from collections.abc import Callable

from cnn_core.runs.local import LocalExecutor
from cnn_core.runs.ray_executor import RAY_ADDRESS_VAR, RayExecutor
from cnn_core.runs.request import POLL_EVERY, TrainRequest


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
