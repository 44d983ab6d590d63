"""A batch of trials against handles that follow the executor contract (a test double that trains nothing):
cached runs are not submitted, one key trains once, progress arrives, stop stops every run, failures show."""

from __future__ import annotations

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.study.exercises import ExperimentConfig
from cnn_core.study.experiments import experiment_result
from cnn_core.study.sweeps import SweepConfig, best_trial, parse_param, sweep_rows
from cnn_core.study.trials import TrialBatch
from cnn_core.training.config import TrainConfig
from cnn_core.training.run import TrainedRun

TINY = DataConfig(n_per_class=10, size=16, test_fraction=0.2)


def fake_run(trial, status="completed", acc=0.5):
    history = [{"epoch": e, "val_acc": acc, "val_loss": 1.0, "train_loss": 1.0, "train_acc": acc, "lr": 1e-3,
                "seconds": 0.1} for e in range(1, trial.train.epochs + 1)]  # fmt: skip
    summary = {"status": status, "reason": f"{status} on purpose", "val_acc": acc, "train_seconds": 1.5}
    return TrainedRun(trial.spec, trial.data, trial.train.to_dict(), {}, history, summary, trial.key())


class FakeHandle:
    def __init__(self, trial, outcome):
        self.key, self.trial, self.outcome = trial.key(), trial, outcome
        self.events = [{"kind": "batch", "done": 1, "total": 2}]
        self.finished = self.stopped = False

    def poll(self):
        events, self.events = self.events, []
        return events

    def stop(self):
        self.stopped = self.finished = True

    def done(self):
        return self.finished

    def result(self, timeout=None):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome(self)


class FakeExecutor:
    name = "fake"

    def __init__(self, outcome):
        self.outcome, self.handles = outcome, []

    def submit(self, trial):
        self.handles.append(FakeHandle(trial, self.outcome))
        return self.handles[-1]

    def finish_all(self):
        for h in self.handles:
            h.finished = True


class FakeCache(dict):
    def put(self, run):
        self[run.key] = run


def _trial_of(batch, handle):
    return next(s.trial for s in batch.states if s.trial.key() == handle.key)


def _scores(run):
    return {"test_acc": run.summary["val_acc"], "test_loss": 1.0}


def test_cached_runs_are_not_submitted_and_one_key_trains_once():
    cfg = ExperimentConfig(exercise="loss", seeds=2, data=TINY, train=TrainConfig(epochs=2))
    trials = cfg.trials()
    trials = trials + trials[:1]  # the same configuration asked for twice
    cache = FakeCache({trials[0].key(): fake_run(trials[0], acc=0.9)})
    ex = FakeExecutor(None)
    batch = TrialBatch(trials, ex.submit, lookup=cache.get, keep=cache.put, score=_scores)
    assert len(ex.handles) == 3  # 5 trials, one cached, one a repeat of the cached one
    assert [s.state for s in batch.states] == ["cached", "queued", "queued", "queued", "cached"]
    assert batch.states[0].scores == {"test_acc": 0.9, "test_loss": 1.0}


def test_progress_arrives_and_finished_runs_are_scored():
    cfg = ExperimentConfig(exercise="loss", seeds=2, data=TINY, train=TrainConfig(epochs=2))
    ex = FakeExecutor(lambda h: fake_run(_trial_of(batch, h), acc=0.6))
    cache = FakeCache()
    batch = TrialBatch(cfg.trials(), ex.submit, lookup=cache.get, keep=cache.put, score=_scores)
    assert batch.poll()
    assert all(s.state == "running" and s.progress == pytest.approx(0.25) for s in batch.states)
    ex.finish_all()
    batch.poll()
    assert batch.done() and all(s.state == "done" for s in batch.states)
    assert experiment_result(cfg, batch.states).variants[0].test_acc == (0.6, 0.6)
    assert set(cache) == {t.key() for t in cfg.trials()}  # finished runs are kept for the next time
    again = TrialBatch(cfg.trials(), FakeExecutor(None).submit, lookup=cache.get, score=_scores)
    assert again.done() and {s.state for s in again.states} == {"cached"}


def test_stop_stops_every_run_and_stopped_runs_are_not_results():
    cfg = ExperimentConfig(exercise="deeper", seeds=2, data=TINY, train=TrainConfig(epochs=2))
    ex = FakeExecutor(lambda h: fake_run(_trial_of(batch, h), status="stopped"))
    cache = FakeCache()
    batch = TrialBatch(cfg.trials(), ex.submit, lookup=cache.get, keep=cache.put, score=_scores)
    batch.stop()
    assert batch.stopped and all(h.stopped for h in ex.handles)
    batch.poll()
    assert batch.done()
    assert {s.state for s in batch.states} == {"stopped"}
    assert experiment_result(cfg, batch.states) is None  # nothing finished to compare
    assert not cache  # a stopped run is not what its configuration gives


def test_a_failed_run_shows_its_reason():
    cfg = SweepConfig((parse_param("lr=1e-3,1e-2"),), data=TINY, train=TrainConfig(epochs=1))
    ex = FakeExecutor(ValueError("the loss diverged"))
    batch = TrialBatch(cfg.trials(), ex.submit, score=_scores)
    ex.finish_all()
    batch.poll()
    assert [(s.state, s.error) for s in batch.states] == [("failed", "the loss diverged")] * 2
    rows = sweep_rows(batch.states)
    assert [r["lr"] for r in rows] == [1e-3, 1e-2] and best_trial(rows) is None


def test_a_batch_needs_a_way_to_score():
    with pytest.raises(ValueError, match="score"):
        TrialBatch([], FakeExecutor(None).submit)


def test_a_run_that_barely_learned_is_still_a_result():
    cfg = SweepConfig((parse_param("lr=1e-3,1e-2"),), data=TINY, train=TrainConfig(epochs=1))
    ex = FakeExecutor(lambda h: fake_run(_trial_of(batch, h), status="unstable", acc=0.25))
    batch = TrialBatch(cfg.trials(), ex.submit, score=_scores)
    ex.finish_all()
    batch.poll()
    assert [s.state for s in batch.states] == ["done", "done"]  # what those settings give: a data point
    assert best_trial(sweep_rows(batch.states))["val_acc"] == 0.25
