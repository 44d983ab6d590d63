"""The Experiments page through AppTest: its choices, every bad input, and a tiny experiment and sweep end to
end through the executor — live runs, Stop all, a cached rerun that trains nothing, and "use the best"."""

from __future__ import annotations

import time

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.study.experiments import experiment_result
from cnn_core.study.statistics import ci_text, signed_points

PAGE = "app_pages/experiments.py"
TINY = DataConfig(n_per_class=8, size=16, test_fraction=0.25, val_fraction=0.25, seed=7)
SLOW = DataConfig(n_per_class=100, test_fraction=0.2, seed=8)


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


def _set(at, kind: str, key: str, value):
    getattr(at, kind)(key=key).set_value(value)
    return at


def _open(app, data: DataConfig | None = None):
    at = app()
    if data is not None:
        at.session_state["data_config"] = data
        at.session_state["dataset"] = None  # rebuilt from data_config by ui.state.current_dataset
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_the_page_explains_itself_and_offers_hard_shapes(app):
    at = _open(app)
    assert at.title[0].value == "Experiments"
    assert "seed by seed" in at.markdown[0].value and "95 % interval" in at.markdown[0].value
    assert any("colour alone gives the answer" in c for c in _texts(at.caption))
    assert at.radio(key="exp_task").value == "hard"
    assert any("2 variants × 3 seeds = 6 runs" in c for c in _texts(at.caption))
    at.selectbox(key="exp_exercise").set_value("width").run()
    assert any("3 variants × 3 seeds = 9 runs" in c for c in _texts(at.caption))


@pytest.mark.parametrize(
    "action, message",
    [(lambda at: at.multiselect(key="sweep_knobs").set_value([]), "choose at least one hyperparameter"),
     (lambda at: at.multiselect(key="sweep_values_lr").set_value([]), "give each hyperparameter at least one value"),
     (lambda at: at.number_input(key="sweep_budget").set_value(3), "the grid has 4 combinations, more than the budget of 3"),
     (lambda at: _set(_set(at, "radio", "sweep_mode", "random"), "number_input", "sweep_budget", 5),
      "needs at least 5 combinations")],
)  # fmt: skip
def test_bad_sweeps_are_explained_and_cannot_run(app, action, message):
    at = _open(app)
    action(at).run()
    assert not at.exception
    assert any(message in e for e in _texts(at.error)), _texts(at.error)
    assert at.button(key="sweep_run").disabled


def test_a_dataset_without_test_images_cannot_run_an_experiment(app):
    at = _open(app, DataConfig(test_fraction=0.0))
    at.radio(key="exp_task").set_value("current").run()
    assert any("test share above 0" in e for e in _texts(at.error))
    assert at.button(key="exp_run").disabled


def test_a_variant_that_breaks_on_the_images_is_refused(app):
    digits = DataConfig(dataset="digits", test_fraction=0.2)  # 8×8: a fourth halving block has nothing left
    at = app()
    at.session_state["data_config"] = digits
    at.session_state["model_spec"] = BlockDesign(downsample_last=True).to_spec((1, 8, 8), 10)
    at.switch_page(PAGE).run()
    at.radio(key="exp_task").set_value("current")
    at.radio(key="exp_start").set_value("mine").run()
    at.button(key="exp_run").click().run()
    assert not at.exception
    assert any("breaks at layer" in e for e in _texts(at.error)), _texts(at.error)
    assert "exp_batch" not in at.session_state


# ---------------------------------------------------------------- end to end, through the executor


def _wait(at, until, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while not until(at):
        assert time.monotonic() < deadline, "the batch did not finish in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return at


def _finished(at) -> bool:
    batch = at.session_state["exp_batch"]["batch"] if "exp_batch" in at.session_state else None
    return batch is not None and batch.done() and not any(b.key == "exp_stop" for b in at.button)


def _tiny_experiment(app, epochs: int = 1, data: DataConfig = TINY):
    at = _open(app, data)
    at.radio(key="exp_task").set_value("current")
    at.slider(key="exp_epochs").set_value(epochs)
    at.selectbox(key="exp_exercise").set_value("loss")
    at.slider(key="exp_seeds").set_value(2).run()
    at.button(key="exp_run").click().run()
    assert not at.exception, at.exception
    return at


def test_a_tiny_experiment_runs_end_to_end_and_a_rerun_trains_nothing(app):
    at = _wait(_tiny_experiment(app), _finished)
    batch = at.session_state["exp_batch"]["batch"]
    assert [s.state for s in batch.states] in (["done"] * 4, ["cached"] * 4)
    markdown = " ".join(_texts(at.markdown))
    assert "**Verdict.**" in markdown and "label smoothing 0.1" in markdown
    assert any("Does label smoothing 0.1 help?" in s for s in _texts(at.success) + _texts(at.info))
    table = at.dataframe[-1].value if at.dataframe else None
    assert table is not None and list(table["variant"]) == ["cross-entropy", "label smoothing 0.1"]
    # The interval, the p-value and the corrected verdict, as the core computes them from the same runs.
    result = experiment_result(at.session_state["exp_batch"]["config"], batch.states)
    (c,) = result.comparisons
    comparisons = next(d.value for d in at.dataframe if "p after Holm" in d.value.columns)
    row = comparisons.iloc[0]
    assert row["variant"] == "label smoothing 0.1" and row["difference"] == signed_points(c.difference)
    assert row["95 % CI (points)"] == ci_text(c)
    assert (row["p"], row["p after Holm"]) == pytest.approx((c.p, c.p_adjusted), nan_ok=True)
    assert row["verdict"] == {"better": "better", "worse": "worse"}.get(c.outcome, "no clear difference")
    assert result.verdict in markdown and any("paired t-test" in t for t in _texts(at.caption))

    again = _wait(_tiny_experiment(app), _finished)
    rerun = again.session_state["exp_batch"]["batch"]
    assert [s.state for s in rerun.states] == ["cached"] * 4  # found in the run registry: nothing trained
    assert rerun.done()
    assert any("4 of 4 runs came from the server's run registry" in c for c in _texts(again.caption))
    first = [s.scores["test_acc"] for s in batch.states]
    assert [s.scores["test_acc"] for s in rerun.states] == first


def test_a_rerun_looks_for_its_runs_in_the_cache_the_manager_registers_them_in(app, tmp_path, monkeypatch):
    """The server-wide manager keeps the model cache it was made with; a newer cache object on another folder (as
    a test's own cache, or a reset of one resource but not the other, leaves) must not hide the runs it trained."""
    from ui.jobs import shared_cache, shared_manager

    _wait(_tiny_experiment(app, epochs=2), _finished)
    assert shared_manager().cache is shared_cache()
    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path / "elsewhere"))
    shared_cache.clear()
    try:
        again = _wait(_tiny_experiment(app, epochs=2), _finished)
        assert [s.state for s in again.session_state["exp_batch"]["batch"].states] == ["cached"] * 4
    finally:
        shared_cache.clear()  # the next test's cache reads the folder it sets


def test_stop_all_stops_every_run(app):
    at = _tiny_experiment(app, epochs=30, data=SLOW)  # runs of a minute or more: stopped long before the end
    at.session_state["exp_batch"]["batch"].poll()
    at.run()
    live = at.dataframe[-1].value  # the runs, live
    assert list(live["run"]) == ["cross-entropy"] * 2 + ["label smoothing 0.1"] * 2
    assert set(live["state"]) <= {"waiting", "training"}
    stop = next(b for b in at.button if b.key == "exp_stop")
    stop.click().run()
    at = _wait(at, _finished)
    batch = at.session_state["exp_batch"]["batch"]
    assert batch.stopped
    assert {s.state for s in batch.states} <= {"stopped", "done", "cached"}
    assert any(s.state == "stopped" for s in batch.states)
    assert any("Stopped" in w for w in _texts(at.warning))


def test_a_tiny_sweep_finds_the_best_and_sends_it_to_the_other_pages(app):
    at = _open(app, TINY)
    at.radio(key="exp_task").set_value("current")
    at.slider(key="exp_epochs").set_value(1)
    at.multiselect(key="sweep_knobs").set_value(["lr", "blocks"]).run()
    at.multiselect(key="sweep_values_lr").set_value([1e-3])
    at.multiselect(key="sweep_values_blocks").set_value([2, 3]).run()
    at.button(key="sweep_run").click().run()
    at = _wait(at, _finished)
    rows = at.dataframe[-1].value
    assert list(rows["blocks"]) == [2, 3] and list(rows["lr"]) == [1e-3, 1e-3]
    assert any("Best: trial" in s for s in _texts(at.success))
    assert any("95 % interval" in c and "validation images" in c for c in _texts(at.caption))
    at.button(key="sweep_use_best").click().run()
    assert not at.exception
    best = min(at.session_state["exp_batch"]["batch"].states, key=lambda s: (-s.run.summary["val_acc"],
                                                                             s.run.summary["params"]))  # fmt: skip
    assert at.session_state["model_spec"] == best.trial.spec
    assert at.session_state["train_values"]["lr"] == 1e-3
    at.switch_page("app_pages/architecture.py").run()
    assert not at.exception
    assert at.slider(key="arch_num_blocks").value == sum(lay.type == "conv2d" for lay in best.trial.spec.layers)
