"""A batch of training runs on an executor: cached runs come back at once, the same key trains once,
progress is polled, the whole batch stops at once, and each finished run is scored on the test images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cnn_core.data.config import DataConfig
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.registry import CACHEABLE
from cnn_core.training.config import TrainConfig

FINISHED = ("done", "cached")  # states whose run is what its configuration gives
USABLE = CACHEABLE  # run statuses that are what their configuration gives (not stopped, not diverged)


@dataclass(frozen=True)
class Trial:
    """One training run of a batch: a variant (or a sweep's settings) with one seed."""

    label: str  # the variant's name, or "trial 3" in a sweep
    seed: int  # the training seed
    data: DataConfig
    spec: ModelSpec
    train: TrainConfig  # holds the seed
    settings: tuple[tuple[str, Any], ...] = ()  # a sweep's knob values, in the order given

    def key(self) -> str:
        from cnn_core.training.run import run_key

        return run_key(self.data, self.spec, self.train)


@dataclass
class TrialState:
    trial: Trial
    state: str = "queued"  # queued → running → done | cached | stopped | failed
    history: list[dict[str, float]] = field(default_factory=list)  # one record per finished epoch
    progress: float = 0.0  # share of the epochs done, 0 to 1
    run: Any = None  # the TrainedRun once finished
    scores: dict[str, float] = field(default_factory=dict)  # test_acc and test_loss once finished
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def test_scores(run, ds) -> dict[str, float]:
    """Accuracy and mean cross-entropy of a trained run on the dataset's test images, and how many test and
    validation images there are (an accuracy's interval needs its count)."""
    import numpy as np

    from cnn_core.inspection.evaluate import predict

    images, labels = ds.split("test")
    if not len(labels):
        raise ValueError("the dataset has no test images: set a test share above 0")
    probs = predict(run.build(), images)
    right = probs[np.arange(len(labels)), labels]
    return {"test_acc": float((probs.argmax(1) == labels).mean()),
            "test_loss": float(-np.log(np.clip(right, 1e-12, None)).mean()),
            "test_images": len(labels), "val_images": len(ds.splits["val"])}  # fmt: skip


def on_executor(executor, who: str = "") -> Callable[[Trial], Any]:
    """A `submit` for TrialBatch: each trial as a TrainRequest to an executor (cnn_core.runs.request's contract)."""
    from cnn_core.runs.request import TrainRequest

    return lambda t: executor.submit(TrainRequest(t.data, t.spec, t.train, who=who))


class TrialBatch:
    """Every trial trained once: taken from `lookup(key)` (the model cache) when trained before, else given to
    `submit(trial)`, which returns a handle with poll/stop/done/result (a RunHandle). One key trains once.

    `keep(run)` receives each run that finished as its configuration gives (completed or early-stopped), to
    cache it; `score(run)` gives a finished run's test scores (default: `test_scores` on `dataset`). Call
    `poll()` to collect progress; `stop()` stops every run still going (stopped runs are not results).
    """

    def __init__(self, trials: list[Trial], submit: Callable[[Trial], Any], dataset=None, *,
                 lookup: Callable[[str], Any] | None = None, keep: Callable[[Any], None] | None = None,
                 score: Callable[[Any], dict] | None = None):  # fmt: skip
        if score is None and dataset is None:
            raise ValueError("give the dataset (or a score function) to score the finished runs")
        self.score = score or (lambda run: test_scores(run, dataset))
        self.keep = keep
        self.states = [TrialState(t) for t in trials]
        self.stopped = False
        self._handles: dict[str, Any] = {}  # key → the handle of a run still to collect
        self._by_key: dict[str, list[TrialState]] = {}
        for s in self.states:
            self._by_key.setdefault(s.trial.key(), []).append(s)
        for key, group in self._by_key.items():
            run = lookup(key) if lookup is not None else None
            if run is not None:
                self._finish(group, run, "cached")
            else:
                self._handles[key] = submit(group[0].trial)

    def _finish(self, group: list[TrialState], run, state: str) -> None:
        usable = run.summary.get("status") in USABLE
        scores = self.score(run) if usable else {}
        for s in group:
            s.run, s.history, s.progress = run, list(run.history), 1.0
            s.state = state if usable else "stopped" if run.summary.get("status") == "stopped" else "failed"
            s.scores = dict(scores)
            s.error = "" if usable else run.summary.get("reason", "")

    def poll(self) -> bool:
        """Take in the progress since the last poll; True when anything changed."""
        changed = False
        for key, handle in list(self._handles.items()):
            group = self._by_key[key]
            for event in handle.poll():
                changed = True
                for s in group:
                    s.state = "running"
                    if event.get("kind") == "epoch":
                        s.history.append({k: v for k, v in event.items() if k != "kind"})
                        s.progress = len(s.history) / s.trial.train.epochs
                    elif event.get("kind") == "batch" and event.get("total"):
                        s.progress = (len(s.history) + event["done"] / event["total"]) / s.trial.train.epochs
            if handle.done():
                changed = True
                del self._handles[key]
                try:
                    run = handle.result()
                    if self.keep is not None and run.summary.get("status") in USABLE:
                        self.keep(run)
                    self._finish(group, run, "done")
                except ValueError as exc:
                    for s in group:
                        s.state = "stopped" if self.stopped else "failed"
                        s.error = str(exc)
        return changed

    def stop(self) -> None:
        """Stop every run still queued or training."""
        self.stopped = True
        for handle in self._handles.values():
            handle.stop()

    def done(self) -> bool:
        return not self._handles

    def wait(self, on_change: Callable[[TrialBatch], None] | None = None, interval: float = 0.2) -> TrialBatch:
        """Poll until every run has finished (for scripts and the CLI)."""
        import time

        while True:
            if self.poll() and on_change is not None:
                on_change(self)
            if self.done():
                return self
            time.sleep(interval)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.states:
            out[s.state] = out.get(s.state, 0) + 1
        return out
