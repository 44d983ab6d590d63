"""The Experiments page's link to the runtime: its runs go through the server's job manager (ui.jobs), so a
configuration that any session is training or has trained is joined or reused, never trained twice; test
scores are computed once per run. The server only submits, polls and draws."""

from __future__ import annotations

import streamlit as st

from cnn_core.study.trials import TrialBatch, test_scores
from ui.board_views import board_owner
from ui.jobs import TrainingManager, session_label, shared_manager


@st.cache_data(max_entries=1024, show_spinner=False)
def _scores(run_id: str, _run, _ds) -> dict[str, float]:
    """Test scores of one set of weights (named by its run id) on its dataset."""
    return test_scores(_run, _ds)


class JobHandle:
    """A manager's Job seen through the executor's RunHandle interface (poll/stop/done/result)."""

    def __init__(self, manager: TrainingManager, job, who: str):
        self.manager, self.job, self.who = manager, job, who
        self._seen = 0  # epochs already reported
        self._left = False  # this session stopped waiting while other sessions still want the run

    def poll(self) -> list[dict]:
        history = self.job.snapshot()["history"]
        events = [{"kind": "epoch", **h} for h in history[self._seen :]]
        self._seen = len(history)
        done, total = self.job.batch
        if total and self.job.state == "running":
            events.append({"kind": "batch", "done": done, "total": total})
        return events

    def stop(self) -> None:
        self._left = not self.manager.stop(self.job, self.who)

    def done(self) -> bool:
        return self._left or self.job.state in ("done", "failed")

    def result(self, timeout: float | None = None):
        if self._left and self.job.state != "done":
            raise ValueError("stopped for you; another learner still trains this configuration")
        return self.job.result()


def start_batch(trials, ds) -> TrialBatch:
    """Submit the trials on behalf of this session; runs in the model cache come back at once."""
    manager, who, owner = shared_manager(), session_label(), board_owner()  # the runs reach the board as this student's
    return TrialBatch(trials, lambda t: JobHandle(manager, manager.submit(t.spec, ds, t.train, who=who, name=owner), who),
                      lookup=manager.cache.get,  # where the manager registers its runs
                      score=lambda run: _scores(run.run_id, run, ds))  # fmt: skip
