"""The Training page, driven through AppTest: train a tiny run to completion, cache, stop, bad models."""

import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.nets.layers import layer
from cnn_core.nets.presets import network
from cnn_core.nets.spec import ModelSpec
from cnn_core.settings import ENV_VAR
from cnn_core.training.config import suggested_config
from tests.conftest import ROOT
from tests.html_tables import page_tables
from tests.run_helpers import kill_9, worker_pids
from ui.jobs import shared_cache, shared_manager

PAGE = str(ROOT / "app_pages" / "training.py")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets an empty model cache and a fresh server-wide manager."""
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "cache"))
    shared_manager.clear()
    shared_cache.clear()
    yield
    shared_manager.clear()  # ends its worker processes
    shared_cache.clear()


def tiny_page(epochs: int = 2) -> AppTest:
    """The page over a tiny dataset and network (as the Dataset and Architecture pages would leave them)."""
    ds = make_dataset(DataConfig(n_per_class=20, size=16))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["data_config"], at.session_state["dataset"] = ds.config, ds
    at.session_state["model_spec"] = ModelSpec((3, 32, 32), 4, (
        layer("conv2d", out_channels=4, padding=1), layer("relu"), layer("maxpool2d"), layer("flatten"),
        layer("linear", out_features=4)))  # fmt: skip  # designed for 32×32: the page moves it onto 16×16
    at.run()
    at.slider(key="tr_epochs").set_value(epochs)
    at.select_slider(key="tr_batch_size").set_value(8)
    at.select_slider(key="tr_lr").set_value(1e-2).run()  # enough steps to learn: a run at chance ends "unstable"
    return at


def poll_until_finished(at: AppTest, limit: float = 60.0) -> AppTest:
    end = time.monotonic() + limit
    while "train_job" in at.session_state:
        assert time.monotonic() < end, "the run did not finish"
        time.sleep(0.2)
        at.run()
    return at


def test_first_visit_shows_defaults_the_device_and_a_train_button():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.button(key="tr_train").label == "Train" and not at.button(key="tr_train").disabled
    assert any("PyTorch" in c.value and "CPU" in c.value for c in at.sidebar.caption)
    assert at.selectbox(key="tr_optimizer").value == "adam" and at.select_slider(key="tr_lr").value == 1e-3
    assert "**SimpleCNN (3 conv blocks)**" in at.caption[0].value
    assert all(w.help for w in [*at.slider, *at.selectbox, *at.select_slider, *at.number_input, *at.checkbox])


def test_the_sidebar_names_the_threads_a_run_gets_not_the_web_server_s(monkeypatch):
    import torch

    monkeypatch.setenv("CNN_LAB_THREADS", "3")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    device = next(c.value for c in at.sidebar.caption if "PyTorch" in c.value)
    assert "CPU (3 threads)" in device and torch.get_num_threads() != 3
    assert any("with 3 CPU threads each" in c.value for c in at.sidebar.caption)


def test_trains_a_tiny_run_to_completion_and_makes_it_active():
    at = tiny_page(epochs=2)
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    assert not at.exception and not at.error
    runs = at.session_state["runs"]
    assert len(runs) == 1 and at.session_state["active_run"] is runs[0]
    assert runs[0].summary["status"] == "completed" and len(runs[0].history) == 2
    assert runs[0].spec.input == (3, 16, 16)
    assert "Completed" in at.success[0].value
    (shown,) = page_tables(at)  # a static table: no data grid on the page a first training ends on
    table, run = shown.text, runs[0]
    assert not at.dataframe
    assert list(table["run"]) == ["▶ Run 1"] and table["status"][0] == "completed" and table["epochs"][0] == "2"
    assert list(table.columns) == ["run", "status", "best val acc", "final val acc", "epochs", "time (s)", "training",
                                   "model"]  # what tells runs apart first: nothing hides behind a scroll
    best = run.summary.get("best_val_acc", run.summary["val_acc"])
    assert table["best val acc"][0] == f"{best:.1%}" and f"{100 * best:.1f}%" in shown.style["best val acc"][0]  # its bar
    assert table["final val acc"][0] == f"{run.summary['val_acc']:.1%}"
    assert [b.label for b in at.get("download_button")] == ["Download the checkpoint (.pt)",
                                                             "Download the configuration (.json)"]


def test_the_same_configuration_again_comes_from_the_cache_without_an_identical_second_run():
    at = tiny_page(epochs=1)
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    [first] = at.session_state["runs"]
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    assert at.session_state["runs"] == [first] and at.session_state["active_run"] is first
    assert "trained before: Run 1 again" in at.toast[0].value
    at.number_input(key="tr_seed").set_value(1).run()
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    first_again, second = at.session_state["runs"]
    assert first_again is first and at.session_state["active_run"] is second
    at.selectbox(key="tr_active").set_value(1).run()
    assert at.session_state["active_run"] is first


def test_runs_take_names_and_their_curves_overlay_on_one_chart():
    at = tiny_page(epochs=2)
    for seed in (0, 1):
        at.number_input(key="tr_seed").set_value(seed).run()
        at.button(key="tr_train").click().run()
        poll_until_finished(at)
    first, second = at.session_state["runs"]
    at.text_input(key=f"tr_name_{second.run_id}").input("seed 1").run()
    assert list(page_tables(at)[0].text["run"]) == ["Run 1", "▶ seed 1"]
    chart = next(c for c in at.get("plotly_chart") if c.key == "tr_compare_curves")
    import json

    legend = [t["name"] for t in json.loads(chart.proto.spec)["data"] if t.get("showlegend")]
    assert legend == ["Run 1, train", "Run 1, val", "seed 1, train", "seed 1, val"]


def test_the_step_schedule_follows_the_epochs_until_the_learner_sets_it():
    at = tiny_page(epochs=10)
    step = at.number_input(key="tr_step_size")
    assert step.value is None and step.proto.placeholder == "auto: every 4"
    at.slider(key="tr_epochs").set_value(40).run()
    assert at.number_input(key="tr_step_size").proto.placeholder == "auto: every 14"
    at.button(key="tr_train").click().run()
    assert at.session_state["train_job"].config.step_size == 14  # the rate is cut three times, not six
    at.session_state["train_job"].handle.stop()


def test_warnings_come_before_train_is_pressed():
    at = tiny_page(epochs=1)
    assert not at.warning
    at.select_slider(key="tr_lr").set_value(10.0).run()
    assert "far above what Adam usually takes" in at.warning[0].value
    ds = make_dataset(DataConfig(dataset="digits", n_per_class=30))
    at.session_state["data_config"], at.session_state["dataset"] = ds.config, ds
    at.session_state["model_spec"] = network("simple_cnn")  # its adaptive pool turns 2×2 into 4×4 on 8×8 digits
    at.run()
    assert any("upsamples" in w.value for w in at.warning)


def test_a_training_error_goes_once_the_dataset_changes():
    at = tiny_page(epochs=1)
    tiny = make_dataset(DataConfig(n_per_class=2, size=16))  # no validation image in the split
    at.session_state["data_config"], at.session_state["dataset"] = tiny.config, tiny
    at.run()
    assert "validation split is empty" in at.warning[0].value  # said before Train
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    assert at.error and "validation" in at.error[0].value
    fixed = make_dataset(DataConfig(n_per_class=20, size=16))
    at.session_state["data_config"], at.session_state["dataset"] = fixed.config, fixed
    at.run()
    assert not at.error


def test_reset_to_defaults_brings_back_the_starting_settings():
    at = tiny_page(epochs=7)
    assert at.slider(key="tr_epochs").value == 7
    at.button(key="reset_tr_").click().run()
    small = suggested_config(DataConfig(n_per_class=20, size=16))  # 80 images: more epochs in smaller batches
    assert at.slider(key="tr_epochs").value == small.epochs > 10 and at.select_slider(key="tr_lr").value == 1e-3
    assert at.select_slider(key="tr_batch_size").value == small.batch_size


def test_live_curves_show_while_it_trains_and_stop_ends_the_run_keeping_the_partial_model():
    import torch

    rng, threads = torch.random.get_rng_state(), torch.get_num_threads()
    at = tiny_page(epochs=100)
    at.button(key="tr_train").click().run()
    end = time.monotonic() + 120
    while not any(c.key == "tr_live_curves" for c in at.get("plotly_chart")):  # the first epoch is drawn live
        assert time.monotonic() < end and "train_job" in at.session_state, "no live curves while training"
        time.sleep(0.2)
        at.run()
    assert at.session_state["train_live_every"] == 1.0  # one session watches: a redraw a second
    at.button(key="tr_stop").click().run()
    poll_until_finished(at)
    assert not at.exception
    [run] = at.session_state["runs"]
    assert run.summary["status"] == "stopped" and run.summary["epochs_run"] < 100 and "Stopped" in at.warning[0].value
    # the server process only submitted and polled: its random stream and thread count are untouched
    assert torch.equal(torch.random.get_rng_state(), rng) and torch.get_num_threads() == threads


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="finds the workers through Linux's /proc")
def test_workers_killed_while_training_and_while_idle_are_a_message_then_the_next_train_works():
    at = tiny_page(epochs=100)
    at.button(key="tr_train").click().run()
    end = time.monotonic() + 120
    while not any(c.key == "tr_live_curves" for c in at.get("plotly_chart")):  # its worker has taken it
        assert time.monotonic() < end and "train_job" in at.session_state, "no live curves while training"
        time.sleep(0.2)
        at.run()
    kill_9(worker_pids())  # as the out-of-memory killer would, during the run
    poll_until_finished(at)
    assert not at.exception and "Training failed: the worker process died" in at.error[0].value
    while not worker_pids():  # its replacement starts…
        time.sleep(0.1)
    kill_9(worker_pids())  # …and is killed while idle
    at.slider(key="tr_epochs").set_value(1).run()
    at.button(key="tr_train").click().run()  # was: BrokenPipeError on the page
    poll_until_finished(at)
    assert not at.exception and not at.error and len(at.session_state["runs"]) == 1


def test_a_live_view_redraws_less_often_while_a_class_watches(monkeypatch):
    from ui.jobs import TrainingManager

    watching = [12]
    monkeypatch.setattr(TrainingManager, "watchers", lambda self: watching[0])
    at = tiny_page(epochs=100)
    at.button(key="tr_train").click().run()
    assert at.session_state["train_live_every"] == 5.0  # 12 sessions: each view every 5 s
    watching[0] = 1
    at.run()  # the class left: once a second again
    assert at.session_state["train_live_every"] == 1.0
    at.button(key="tr_stop").click().run()
    poll_until_finished(at)
    assert not at.exception


def test_a_ray_cluster_that_cannot_be_reached_is_a_clear_message(monkeypatch):
    monkeypatch.setenv("CNN_LAB_RAY_ADDRESS", "127.0.0.1:9")
    shared_manager.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "CNN_LAB_RAY_ADDRESS=127.0.0.1:9" in at.error[0].value and not any(b.key == "tr_train" for b in at.button)


def test_a_network_that_does_not_fit_the_dataset_explains_and_links_to_architecture():
    ds = make_dataset(DataConfig(dataset="digits", n_per_class=10))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["data_config"], at.session_state["dataset"] = ds.config, ds
    at.session_state["model_spec"] = network("lenet5", (3, 32, 32), 4)  # two 5×5 convs can't fit 8×8 digits
    at.run()
    assert not at.exception
    assert "doesn't fit this dataset" in at.error[0].value and "layer 3" in at.error[0].value
    assert not any(b.key == "tr_train" for b in at.button)  # no Train button under the message


def test_without_a_design_digits_train_the_same_default_as_the_architecture_page_names():
    ds = make_dataset(DataConfig(dataset="digits"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["data_config"], at.session_state["dataset"] = ds.config, ds
    at.run()
    caption = " ".join(c.value for c in at.caption)
    assert "**Small net for 8×8 digits**, the default until you design one" in caption
    assert "digits: Small net for 8×8 digits" in caption and "preset" not in caption
