"""Background training shared by every session of the server: a queue, a few workers and the model cache.

One `TrainingManager` per process (`shared_manager()`, an st.cache_resource). At most `max_runs`
runs train at once, the others wait in line; a key already training or queued is joined rather than
trained twice, and a key in the model cache comes back at once. Pages poll `Job.snapshot()`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from cnn_core.cache import ModelCache, run_key
from cnn_core.device import cpu_count

MAX_RUNS_VAR = "CNN_LAB_MAX_RUNS"  # environment variable: simultaneous runs per server


@dataclass(eq=False)
class Job:
    """One training request, shared by the sessions that asked for the same key."""

    key: str
    spec: Any
    dataset: Any
    config: Any
    device: str
    state: str = "queued"  # queued → running → done | failed
    history: list[dict[str, float]] = field(default_factory=list)
    batch: tuple[int, int] = (0, 0)  # batches done in the current epoch, batches per epoch
    run: Any = None  # the TrainedRun when done
    error: str = ""
    cached: bool = False  # the run came from the model cache
    owners: int = 1  # sessions waiting for it
    stop_event: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0
    position: int = 0  # place in the queue (1 = next), 0 once running

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the progress, for the page to draw."""
        history = list(self.history)
        done_batches, per_epoch = self.batch
        epochs_done = len(history) + (done_batches / per_epoch if per_epoch else 0)
        elapsed = time.perf_counter() - self.started if self.started else 0.0
        total = self.config.epochs
        eta = elapsed / epochs_done * (total - epochs_done) if epochs_done > 0.05 and self.state == "running" else None
        return dict(state=self.state, history=history, fraction=min(epochs_done / total, 1.0), eta=eta,
                    elapsed=elapsed, position=self.position, run=self.run, error=self.error, cached=self.cached,
                    stopping=self.stop_event.is_set())  # fmt: skip


class TrainingManager:
    """Worker threads training queued jobs, `max_runs` at a time."""

    def __init__(self, cache: ModelCache, max_runs: int = 1, threads_per_run: int | None = None):
        import torch

        self.cache = cache
        self.max_runs = max(1, max_runs)
        # torch's thread count is process-wide: share the cores out so that parallel runs don't fight, and
        # leave one to the web server (OpenMP threads that lose their core to it spin and stall the step).
        self.threads_per_run = threads_per_run or max(1, (cpu_count() - 1) // self.max_runs)
        torch.set_num_threads(self.threads_per_run)
        self._pending: list[Job] = []
        self._active: dict[str, Job] = {}  # key → queued or running job
        self._cond = threading.Condition()
        self._workers = [threading.Thread(target=self._work, daemon=True, name=f"cnn-lab-train-{i}")
                         for i in range(self.max_runs)]  # fmt: skip
        for worker in self._workers:
            worker.start()

    def submit(self, spec, dataset, config, device: str = "auto") -> Job:
        """A job for this training: joined if the same key is under way, done at once if cached."""
        key = run_key(dataset.config, spec, config)
        with self._cond:
            job = self._active.get(key)
            if job is not None and not job.stop_event.is_set():
                job.owners += 1
                return job
        cached = self.cache.get(key)
        job = Job(key, spec, dataset, config, device)
        if cached is not None:
            job.state, job.run, job.cached, job.history = "done", cached, True, list(cached.history)
            return job
        with self._cond:
            self._pending.append(job)
            self._active[key] = job
            self._renumber()
            self._cond.notify()
        return job

    def stop(self, job: Job) -> bool:
        """Stop for this session; True if the job stops (False: other sessions still wait for it)."""
        with self._cond:
            if job.owners > 1:
                job.owners -= 1
                return False
            job.stop_event.set()
            if job in self._pending:  # never started: nothing to keep
                self._pending.remove(job)
                self._active.pop(job.key, None)
                job.state, job.error = "failed", "stopped before it started"
                self._renumber()
        return True

    def queue_length(self) -> int:
        with self._cond:
            return len(self._pending)

    def _renumber(self) -> None:
        for i, job in enumerate(self._pending):
            job.position = i + 1

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                job = self._pending.pop(0)
                job.position, job.state, job.started = 0, "running", time.perf_counter()
                self._renumber()
            self._train(job)

    def _train(self, job: Job) -> None:
        from cnn_core.train import fit

        def on_batch(done: int, total: int) -> None:
            job.batch = (done, total)

        def on_epoch(record: dict) -> None:
            job.history.append(record)
            job.batch = (0, job.batch[1])

        try:
            run = fit(job.spec, job.dataset, job.config, device=job.device, stop=job.stop_event,
                      on_epoch=on_epoch, on_batch=on_batch)  # fmt: skip
            if run.summary["status"] in ("completed", "early stopping"):
                self.cache.put(run)  # stopped or diverged runs are not what this config gives
            job.run, job.state = run, "done"
        except Exception as exc:  # a worker must survive any bad request
            job.error, job.state = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc), "failed"
        finally:
            with self._cond:
                if self._active.get(job.key) is job:  # a stopped job may have been replaced by a new request
                    del self._active[job.key]


def default_max_runs() -> int:
    """$CNN_LAB_MAX_RUNS, else one run per four cores (at least one)."""
    value = os.environ.get(MAX_RUNS_VAR, "")
    return int(value) if value.isdigit() and int(value) > 0 else max(1, cpu_count() // 4)


@st.cache_resource(show_spinner=False)
def shared_manager() -> TrainingManager:
    """The process-wide manager, created on first use and shared by every session."""
    return TrainingManager(ModelCache(), default_max_runs())
