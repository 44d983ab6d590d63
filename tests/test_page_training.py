"""The Training page, driven through AppTest: train a tiny run to completion, cache, stop, bad models."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.cache import ENV_VAR
from cnn_core.data import DataConfig, make_dataset
from cnn_core.spec import ModelSpec, layer, preset
from ui.jobs import shared_cache, shared_manager

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "training.py")


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
    at.slider(key="tr_epochs").set_value(epochs).run()
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
    assert "simple_cnn" in at.caption[0].value
    assert all(w.help for w in [*at.slider, *at.selectbox, *at.select_slider, *at.number_input, *at.checkbox])


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
    table = at.dataframe[0].value
    assert list(table["run"]) == [1] and table["cached"][0] == "" and table["epochs"][0] == 2
    assert [b.label for b in at.get("download_button")] == ["Download the checkpoint (.pt)",
                                                             "Download the configuration (.json)"]


def test_the_same_configuration_again_comes_from_the_cache():
    at = tiny_page(epochs=1)
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    at.button(key="tr_train").click().run()
    poll_until_finished(at)
    assert "from the cache" in at.success[0].value
    assert list(at.dataframe[0].value["cached"]) == ["", "cached"]
    first, second = at.session_state["runs"]
    assert at.session_state["active_run"] is second
    at.selectbox(key="tr_active").set_value(1).run()
    assert at.session_state["active_run"] is first


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
    at.button(key="tr_stop").click().run()
    poll_until_finished(at)
    assert not at.exception
    [run] = at.session_state["runs"]
    assert run.summary["status"] == "stopped" and run.summary["epochs_run"] < 100 and "Stopped" in at.warning[0].value
    # the server process only submitted and polled: its random stream and thread count are untouched
    assert torch.equal(torch.random.get_rng_state(), rng) and torch.get_num_threads() == threads


def test_a_ray_cluster_that_cannot_be_reached_is_a_clear_message(monkeypatch):
    monkeypatch.setenv("CNN_LAB_RAY_ADDRESS", "127.0.0.1:9")
    shared_manager.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "CNN_LAB_RAY_ADDRESS=127.0.0.1:9" in at.error[0].value and not at.button


def test_a_network_that_does_not_fit_the_dataset_explains_and_links_to_architecture():
    ds = make_dataset(DataConfig(dataset="digits", n_per_class=10))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["data_config"], at.session_state["dataset"] = ds.config, ds
    at.session_state["model_spec"] = preset("lenet5", (3, 32, 32), 4)  # two 5×5 convs can't fit 8×8 digits
    at.run()
    assert not at.exception
    assert "doesn't fit this dataset" in at.error[0].value and "layer 3" in at.error[0].value
    assert not at.button  # no Train button under the message
