"""The request and its handle: what an executor takes (`TrainRequest`) and gives back at once (`RunHandle`).

Both back ends (`cnn_core.runs.local`, `cnn_core.runs.ray_executor`) keep this protocol: the run happens in a
process of its own, which sets its torch threads and its seeds (fit seeds from the config), rebuilds the
dataset from its config, sends progress events back and returns the checkpoint's bytes (`train_request`).
Nothing about a run changes the state of the process that submits it (threads, random streams).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cnn_core
from cnn_core.data.config import DataConfig
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs import held_out
from cnn_core.training.config import TrainConfig
from cnn_core.training.device import cpu_count

logger = logging.getLogger(__name__)
BATCH_EVERY = 0.1  # seconds between two batch events from a worker
POLL_EVERY = 0.1  # seconds the executor's collector thread waits for news
PACKAGE = Path(cnn_core.__file__).resolve().parent  # what a worker imports: on its path locally, shipped to Ray


@dataclass(frozen=True)
class TrainRequest:
    """Everything a worker needs to train one run, as plain configs (picklable, JSON round-trip)."""

    data_config: DataConfig  # the worker rebuilds the dataset with make_dataset(data_config)
    spec: ModelSpec  # the network, already fitted to the dataset's input and classes
    config: TrainConfig  # the hyperparameters and the seed
    device: str = "auto"  # "auto", "cuda", "mps" or "cpu", resolved in the worker
    threads: int = 0  # torch CPU threads in the worker; 0 = the executor decides
    who: str = ""  # an anonymous session label, stored in the run registry

    def key(self) -> str:
        """The configuration key: the same for every request that must give the same run."""
        from cnn_core.training.run import run_key

        return run_key(self.data_config, self.spec, self.config, self.device)

    def to_dict(self) -> dict[str, Any]:
        return {"data_config": self.data_config.to_dict(), "spec": self.spec.to_dict(),
                "config": self.config.to_dict(), "device": self.device, "threads": self.threads, "who": self.who}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainRequest:
        return cls(DataConfig.from_dict(data["data_config"]), ModelSpec.from_dict(data["spec"]),
                   TrainConfig.from_dict(data["config"]), data.get("device", "auto"), int(data.get("threads", 0)),
                   data.get("who", ""))  # fmt: skip


class RunHandle:
    """One submitted run as its submitter sees it: progress events, stop, and the result when done."""

    def __init__(self, request: TrainRequest, stop: Callable[[RunHandle], None]):
        self.request = request
        self.key = request.key()
        self.state = "queued"  # queued → running → done | failed
        self.position = 0  # place in this executor's queue (1 = next); 0 once running
        self.started = 0.0  # time.monotonic() when it began to train
        self.stop_requested = False
        self._stop = stop
        self._lock = threading.Lock()
        self._events: list[dict] = []
        self._finished = threading.Event()
        self._run = None
        self._error = ""
        self._callbacks: list[Callable[[RunHandle], None]] = []

    @classmethod
    def refused(cls, request: TrainRequest, error: str) -> RunHandle:
        """The handle of a request that an executor refused at submit: failed at once, with the reason."""
        handle = cls(request, lambda _: None)
        handle._finish(error=error)
        return handle

    def poll(self) -> list[dict]:
        """Progress events since the last poll, in order: {"kind": "batch", "done", "total"}, {"kind": "epoch", …}."""
        with self._lock:
            events, self._events = self._events, []
        return events

    def stop(self) -> None:
        """Ask the worker to stop (it does within a second, keeping the model trained so far)."""
        self.stop_requested = True
        self._stop(self)

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run is done, at most `timeout` seconds; whether it is."""
        return self._finished.wait(timeout)

    def result(self, timeout: float | None = None):
        """The TrainedRun; ValueError with the reason if the run failed, TimeoutError if not done in time."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"the run {self.key} is not done after {timeout} s")
        if self._error:
            raise ValueError(self._error)
        return self._run

    def error(self) -> str:
        """Why the run failed ("" while it runs or if it succeeded)."""
        return self._error

    def add_done_callback(self, callback: Callable[[RunHandle], None]) -> None:
        """Call `callback(handle)` when the run is done (at once if it already is), on the executor's thread."""
        with self._lock:
            if not self._finished.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    # the executor's side

    def _begin(self) -> None:
        self.state, self.position, self.started = "running", 0, time.monotonic()

    def _push(self, events: list[dict]) -> None:
        with self._lock:
            self._events.extend(events)

    def _finish(self, run=None, error: str = "") -> None:
        """The run ended (the first call decides: a worker that dies as the executor shuts down ends it twice)."""
        with self._lock:
            if self._finished.is_set():
                return
            self._run, self._error = run, error
            self.state = "failed" if error else "done"
            self._finished.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - one bad callback must not stop the executor's thread
                logger.exception("a callback of run %s failed", self.key)


# ---------------------------------------------------------------- what a worker does


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


@lru_cache(maxsize=2)
def _dataset(config: DataConfig):
    from cnn_core.data.dataset import make_dataset

    return make_dataset(config)


def train_run(request: TrainRequest, *, stop: Callable[[], bool], emit: Callable[[dict], None], dataset=None):
    """Train one request in this process (a worker's, or the CLI's own: cnn_core.runs.launch.train_here) and return
    the TrainedRun; `dataset`: the request's, if already built.

    Sets this process's torch threads and seeds: a worker process belongs to one run at a time, so its global
    random stream (dropout, augmentation) is the run's own.
    """
    import numpy as np
    import torch

    from cnn_core.training.engine import fit

    torch.set_num_threads(request.threads or cpu_count())
    random.seed(request.config.seed)
    np.random.seed(request.config.seed % 2**32)
    torch.manual_seed(request.config.seed)
    last = [0.0]

    def on_batch(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= BATCH_EVERY:
            last[0] = now
            emit({"kind": "batch", "done": done, "total": total})

    return fit(request.spec, _dataset(request.data_config) if dataset is None else dataset, request.config,
               device=request.device, stop=stop, on_epoch=lambda record: emit({"kind": "epoch", **record}),
               on_batch=on_batch)  # fmt: skip


def train_request(request: TrainRequest, *, stop: Callable[[], bool], emit: Callable[[dict], None]) -> bytes:
    """Train one request in this (worker) process and return the checkpoint's bytes, with the run's evaluation on
    its held-out split beside it (cnn_core.runs.held_out)."""
    from cnn_core.runs.checkpoint import checkpoint_bytes

    dataset = _dataset(request.data_config)
    run = train_run(request, stop=stop, emit=emit, dataset=dataset)
    return checkpoint_bytes(run, {held_out.KEY: held_out.evaluation_payload(run, dataset)})


def run_from_bytes(data: bytes):
    """A run our own worker just sent, with the evaluation it computed on the held-out split (`run.held_out`)."""
    from cnn_core.runs.checkpoint import load_checkpoint

    run, extra = load_checkpoint(data, verify=False, extra=True)  # just written by our own worker
    run.held_out = held_out.evaluation_from(extra.get(held_out.KEY))
    return run
