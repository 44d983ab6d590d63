"""The Experiments page's link to the runtime: the server's executor and run registry, and test scores cached
per run, so that a batch only submits, polls and draws."""

from __future__ import annotations

import streamlit as st

from cnn_core.trials import TrialBatch, test_scores


@st.cache_data(max_entries=1024, show_spinner=False)
def _scores(key: str, run_id: str, _run, _ds) -> dict[str, float]:
    """Test scores of one set of weights (named by its run id) on its dataset; computed once per server."""
    return test_scores(_run, _ds)


def start_batch(trials, ds) -> TrialBatch:
    """Submit the trials to the server's executor; runs already in the registry come back at once."""
    from ui.jobs import shared_executor, shared_registry

    registry = shared_registry()
    return TrialBatch(trials, shared_executor(), lookup=registry.find,
                      score=lambda run: _scores(run.key, getattr(run, "run_id", ""), run, ds))  # fmt: skip
