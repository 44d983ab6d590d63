"""The background training manager: queue positions, shared keys, cache hits, stop and failures."""

import threading
import time

import pytest
import torch

import cnn_core.train as train_mod
from cnn_core.cache import ModelCache
from cnn_core.data import DataConfig, make_dataset
from cnn_core.layers import layer
from cnn_core.spec import ModelSpec
from cnn_core.train import TrainConfig
from ui.jobs import TrainingManager


@pytest.fixture(scope="module")
def ds():
    return make_dataset(DataConfig(dataset="digits", classes=("0", "1", "2"), n_per_class=20))


@pytest.fixture
def spec(ds):
    return ModelSpec(ds.input_shape, ds.num_classes, (layer("flatten"), layer("linear", out_features=ds.num_classes)))


@pytest.fixture
def gate(monkeypatch):
    """Replace the engine by a fake that holds each run until the test opens the gate; counts the calls."""
    state = {"calls": 0, "open": threading.Event()}
    real_fit = train_mod.fit

    def fake_fit(spec, dataset, cfg, *, stop=None, on_epoch=None, on_batch=None, device=None):
        state["calls"] += 1
        while not state["open"].wait(0.01):
            if stop.is_set():
                break
        return real_fit(spec, dataset, cfg, device="cpu", stop=stop, on_epoch=on_epoch, on_batch=on_batch)

    monkeypatch.setattr(train_mod, "fit", fake_fit)
    return state


def manager(tmp_path, max_runs=1):
    return TrainingManager(ModelCache(tmp_path), max_runs, threads_per_run=torch.get_num_threads())


def wait_until(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_queue_positions_and_one_run_at_a_time(tmp_path, ds, spec, gate):
    m = manager(tmp_path)
    jobs = [m.submit(spec, ds, TrainConfig(epochs=1, lr=0.01, batch_size=8, seed=s)) for s in range(3)]  # runs that learn
    wait_until(lambda: jobs[0].state == "running")
    assert [j.snapshot()["position"] for j in jobs] == [0, 1, 2]
    assert [j.state for j in jobs[1:]] == ["queued", "queued"]
    gate["open"].set()
    wait_until(lambda: all(j.state == "done" for j in jobs))
    assert gate["calls"] == 3 and all(j.run.summary["status"] == "completed" for j in jobs)


def test_the_same_configuration_from_two_sessions_trains_once(tmp_path, ds, spec, gate):
    m = manager(tmp_path)
    a = m.submit(spec, ds, TrainConfig(epochs=2))
    b = m.submit(spec, ds, TrainConfig(epochs=2))
    assert a is b and a.owners == 2
    gate["open"].set()
    wait_until(lambda: a.state == "done")
    assert gate["calls"] == 1 and len(a.snapshot()["history"]) == 2


def test_a_finished_configuration_comes_back_from_the_cache(tmp_path, ds, spec, gate):
    gate["open"].set()
    m = manager(tmp_path)
    first = m.submit(spec, ds, TrainConfig(epochs=1))
    wait_until(lambda: first.state == "done")
    again = manager(tmp_path).submit(spec, ds, TrainConfig(epochs=1))  # another process: disk cache
    assert again.state == "done" and again.cached and gate["calls"] == 1
    assert torch.equal(again.run.state_dict["fc1.weight"], first.run.state_dict["fc1.weight"])


def test_stop_keeps_a_shared_run_going_until_its_last_session_stops(tmp_path, ds, spec, gate):
    m = manager(tmp_path)
    job = m.submit(spec, ds, TrainConfig(epochs=200))
    m.submit(spec, ds, TrainConfig(epochs=200))
    wait_until(lambda: job.state == "running")
    assert m.stop(job) is False and not job.stop_event.is_set()
    assert m.stop(job) is True
    wait_until(lambda: job.state == "done")
    assert job.run.summary["status"] == "stopped"
    assert ModelCache(tmp_path).get(job.key) is None  # a stopped run is not what the configuration gives


def test_stopping_a_queued_job_takes_it_out_of_the_queue(tmp_path, ds, spec, gate):
    m = manager(tmp_path)
    running = m.submit(spec, ds, TrainConfig(epochs=1, seed=1))
    queued = m.submit(spec, ds, TrainConfig(epochs=1, seed=2))
    last = m.submit(spec, ds, TrainConfig(epochs=1, seed=3))
    wait_until(lambda: running.state == "running")
    m.stop(queued)
    assert queued.state == "failed" and "before it started" in queued.error
    assert last.position == 1 and m.queue_length() == 1
    gate["open"].set()
    wait_until(lambda: last.state == "done")
    assert gate["calls"] == 2


def test_a_failing_run_reports_its_error_and_the_worker_goes_on(tmp_path, ds, spec, gate):
    gate["open"].set()
    m = manager(tmp_path)
    wrong = ModelSpec((3, 32, 32), 3, (layer("flatten"), layer("linear", out_features=3)))
    bad = m.submit(wrong, ds, TrainConfig(epochs=1))
    good = m.submit(spec, ds, TrainConfig(epochs=1))
    wait_until(lambda: good.state == "done")
    assert bad.state == "failed" and "with_io" in bad.error


def test_snapshot_reports_progress_and_an_eta(tmp_path, ds, spec, gate):
    m = manager(tmp_path)
    job = m.submit(spec, ds, TrainConfig(epochs=4))
    snap = job.snapshot()
    assert snap["fraction"] == 0 and snap["eta"] is None and snap["history"] == []
    job.history.append({"epoch": 1})  # as the worker's callback would, mid-run
    job.state, job.started = "running", time.perf_counter() - 2.0
    snap = job.snapshot()
    assert snap["fraction"] == pytest.approx(0.25) and snap["eta"] == pytest.approx(6.0, rel=0.05)
    job.history.clear()
    gate["open"].set()
    wait_until(lambda: job.state == "done")
    assert job.snapshot()["fraction"] == 1.0
