"""Jobs shared by sessions: duplicate submissions, join, leave, stop, closed tabs, the cache, progress."""

import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

import ui.jobs as jobs
from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.nets.layers import layer
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.model_cache import ModelCache
from cnn_core.runs.request import RunHandle
from cnn_core.training.config import TrainConfig
from tests.run_helpers import make_run
from ui.jobs import TrainingManager


class FakeExecutor:
    """Hands out handles that the test finishes by hand; counts the submissions; slow to submit, as a real one."""

    name, max_runs = "local", 1

    def __init__(self, max_runs=None, threads=None, nice=0):
        self.handles: list[RunHandle] = []
        self.sized = (max_runs, threads, nice)
        self.warmed = threading.Event()

    def warm(self):
        self.warmed.set()

    def submit(self, request):
        time.sleep(0.02)  # widens the window in which a racing second submission would slip through
        handle = RunHandle(request, stop=lambda h: None)
        handle._begin()
        self.handles.append(handle)
        return handle

    def shutdown(self):
        pass


@pytest.fixture(scope="module")
def ds():
    return make_dataset(DataConfig(dataset="digits", classes=("0", "1", "2"), n_per_class=20))


@pytest.fixture
def spec(ds):
    return ModelSpec(ds.input_shape, ds.num_classes, (layer("flatten"), layer("linear", out_features=ds.num_classes)))


@pytest.fixture
def manager(tmp_path):
    return TrainingManager(ModelCache(tmp_path), FakeExecutor())


def finish(handle: RunHandle, status: str = "completed"):
    run = make_run(status=status)
    run.key = handle.key
    handle._finish(run)
    return run


def test_duplicate_submissions_from_many_sessions_at_once_train_once(manager, ds, spec):
    got, start = [], threading.Barrier(8)

    def session(i):
        start.wait()
        got.append(manager.submit(spec, ds, TrainConfig(epochs=2), who=f"s{i}"))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(manager.executor.handles) == 1 and len({id(j) for j in got}) == 1
    assert got[0].owners == {f"s{i}" for i in range(8)}


def test_stop_stops_only_when_the_last_session_asks(manager, ds, spec):
    a = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    b = manager.submit(spec, ds, TrainConfig(epochs=2), who="b")
    assert a is b
    assert manager.stop(a, "a") is False and not a.handle.stop_requested  # b still waits for it
    assert manager.stop(b, "b") is True and b.handle.stop_requested


def test_a_closed_tab_releases_its_share_so_the_other_sessions_stop_works(manager, ds, spec):
    job = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    manager.submit(spec, ds, TrainConfig(epochs=2), who="b")
    manager.release("b")  # b closed its tab
    assert job.owners == {"a"}
    assert manager.stop(job, "a") is True and job.handle.stop_requested


def test_a_run_nobody_waits_for_stops_after_the_grace_unless_a_session_comes_back(manager, ds, spec, monkeypatch):
    monkeypatch.setattr(jobs, "ORPHAN_GRACE", 0.05)
    left = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    back = manager.submit(spec, ds, TrainConfig(epochs=3), who="b")
    manager.release("a")
    manager.release("b")
    manager.join(back, "b")  # b's tab reconnected within the grace period
    time.sleep(0.3)
    assert left.handle.stop_requested and not back.handle.stop_requested


def test_a_stopping_job_is_not_joined_a_new_request_trains_again(manager, ds, spec):
    first = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    manager.stop(first, "a")
    second = manager.submit(spec, ds, TrainConfig(epochs=2), who="b")
    assert second is not first and len(manager.executor.handles) == 2


def test_a_completed_run_is_cached_and_a_stopped_one_is_only_registered(manager, ds, spec):
    job = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    run = finish(job.handle)
    assert job.state == "done" and job.result().run_id == run.run_id
    again = manager.submit(spec, ds, TrainConfig(epochs=2), who="b")
    assert again.cached and again.state == "done" and again.result().run_id == run.run_id
    assert len(manager.executor.handles) == 1
    other = manager.submit(spec, ds, TrainConfig(epochs=5), who="a")
    stopped = finish(other.handle, "stopped")
    assert manager.cache.get_run(stopped.run_id).summary["status"] == "stopped"
    assert [e["who"] for e in manager.cache.listing()] == ["a", "a"]
    assert not manager.submit(spec, ds, TrainConfig(epochs=5), who="a").cached  # stopped: not what the config gives


def test_each_session_gets_its_own_copy_of_the_result(manager, ds, spec):
    job = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    finish(job.handle)
    mine = job.result()
    mine.summary["cached"] = True
    assert "cached" not in job.result().summary


def test_snapshot_reports_progress_and_an_eta(manager, ds, spec):
    job = manager.submit(spec, ds, TrainConfig(epochs=4), who="a")
    snap = job.snapshot()
    assert snap["fraction"] == 0 and snap["eta"] is None and snap["history"] == [] and snap["state"] == "running"
    job.handle.started = time.monotonic() - 20.0  # a slow start (the worker's imports): not a slow run
    job.handle._push([{"kind": "batch", "done": 5, "total": 10}, {"kind": "epoch", "epoch": 1, "seconds": 3.0},
                      {"kind": "batch", "done": 5, "total": 10}])  # fmt: skip
    snap = job.snapshot()
    assert snap["history"] == [{"epoch": 1, "seconds": 3.0}]
    assert snap["fraction"] == pytest.approx(1.5 / 4) and snap["eta"] is None  # one epoch timed, with its warm-up
    job.handle._push([{"kind": "epoch", "epoch": 2, "seconds": 2.0}, {"kind": "batch", "done": 5, "total": 10}])
    snap = job.snapshot()
    assert snap["fraction"] == pytest.approx(2.5 / 4) and snap["eta"] == pytest.approx(1.5 * 2.0)  # epoch 2's pace
    assert job.snapshot()["history"] == [{"epoch": 1, "seconds": 3.0}, {"epoch": 2, "seconds": 2.0}]  # nothing lost
    finish(job.handle)
    assert job.snapshot()["fraction"] == 1.0


def test_the_eta_is_the_pace_of_the_timed_epochs_not_the_start_up():
    """A 10-epoch run of 6 s epochs after 8 s of start-up: the old guess at 5 % of epoch 1 was 8.3 / 0.05 × 9.95 s."""
    assert jobs.eta_seconds([], 0.05, 10) is None
    assert jobs.eta_seconds([{"epoch": 1, "seconds": 7.0}], 1.5, 10) is None
    history = [{"epoch": 1, "seconds": 7.0}, {"epoch": 2, "seconds": 6.0}, {"epoch": 3, "seconds": 5.0}]
    assert jobs.eta_seconds(history[:2], 2.0, 10) == pytest.approx(8 * 6.0)
    assert jobs.eta_seconds(history, 3.5, 10) == pytest.approx(6.5 * 5.5)
    assert jobs.eta_seconds(history, 10.0, 10) == 0.0


SESSION_SCRIPT = """
import streamlit as st
from ui.jobs import _session_ticket, session_label
st.write(session_label())
if st.session_state.get("close_tab"):
    _session_ticket.clear()  # what Streamlit does with a session's resources when its tab closes
"""


def test_a_session_s_label_is_released_when_its_session_resources_are(monkeypatch):
    released = []
    monkeypatch.setattr(TrainingManager, "release", lambda self, who: released.append(who))
    jobs.shared_manager.clear()
    monkeypatch.setattr(jobs, "make_executor", FakeExecutor)
    at = AppTest.from_string(SESSION_SCRIPT, default_timeout=30)
    at.run()
    label = at.session_state["who"]
    assert label.startswith("anon-") and label not in released
    at.session_state["close_tab"] = True
    at.run()
    assert released.count(label) == 1  # (an earlier test's session may be released meanwhile: not this one's)
    jobs.shared_manager.clear()


def test_the_app_s_executor_is_sized_by_the_server_plan_with_workers_below_the_web_server_s_priority(monkeypatch):
    from cnn_core.runs.resources import Limits, plan

    two_cores = plan(Limits(cpus=2, memory=8 * 1024**3, cpu_source="", memory_source=""), "cpu")
    monkeypatch.setattr(jobs, "server_plan", lambda: two_cores)
    monkeypatch.setattr(jobs, "make_executor", FakeExecutor)
    jobs.shared_manager.clear()
    try:
        assert jobs.shared_manager().executor.sized == (1, 2, 10)
    finally:
        jobs.shared_manager.clear()


@pytest.mark.parametrize("setting, warmed", [("1", True), ("0", False), (None, True)])
def test_the_app_starts_its_workers_when_it_makes_its_manager_unless_told_not_to(monkeypatch, setting, warmed):
    """A first Train then finds a worker that has already imported torch (2-2.5 s of a first run otherwise)."""
    if setting is None:
        monkeypatch.delenv("CNN_LAB_WARM_WORKERS", raising=False)  # the default: warm
    else:
        monkeypatch.setenv("CNN_LAB_WARM_WORKERS", setting)
    monkeypatch.setattr(jobs, "make_executor", FakeExecutor)
    jobs.shared_manager.clear()
    try:
        assert jobs.shared_manager().executor.warmed.wait(timeout=5 if warmed else 0.5) is warmed
    finally:
        jobs.shared_manager.clear()


def test_live_views_slow_down_in_steps_as_more_sessions_watch_so_the_server_redraws_about_five_a_second():
    assert [jobs.live_interval(n) for n in (0, 1, 5, 6, 10, 11, 25, 100)] == [1, 1, 1, 2, 2, 5, 5, 5]
    for n in (1, 5, 10, 25):
        assert n / jobs.live_interval(n) <= jobs.LIVE_REDRAWS


def test_watchers_count_every_session_waiting_for_every_run(manager, ds, spec):
    manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    manager.submit(spec, ds, TrainConfig(epochs=2), who="b")  # joins a's run
    manager.submit(spec, ds, TrainConfig(epochs=3), who="c")  # another run
    assert manager.watchers() == 3
    manager.release("b")
    assert manager.watchers() == 2


def test_the_cache_folder_removed_mid_run_still_registers_the_run(tmp_path, ds, spec):
    import shutil

    manager = TrainingManager(ModelCache(tmp_path / "cache"), FakeExecutor())
    manager.cache.put(make_run(5))  # the registry is open and set up
    job = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    shutil.rmtree(tmp_path / "cache")  # while the run trains
    run = finish(job.handle)
    assert [e["run_id"] for e in manager.cache.listing()] == [run.run_id]
    assert job.state == "done" and job.store_problem == ""


def test_a_run_the_disk_cannot_keep_is_reported_to_the_session_that_trained_it(tmp_path, ds, spec):
    (tmp_path / "cache").write_text("a file where the folder should be")
    manager = TrainingManager(ModelCache(tmp_path / "cache"), FakeExecutor())
    job = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")
    run = finish(job.handle)
    assert job.state == "done" and "could not be saved" in job.store_problem
    assert job.result().run_id == run.run_id  # the session keeps it, and this server finds it by key
    assert manager.submit(spec, ds, TrainConfig(epochs=2), who="b").cached


def test_a_run_on_a_learner_s_images_holds_them_in_the_store_until_it_ends(tmp_path, monkeypatch):
    from cnn_core.data import image_store
    from cnn_core.data.folders import from_files
    from cnn_core.data.image_set import folder_config
    from tests.image_files import BLUE, RED, picture

    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path))
    images = from_files({c: [(str(i), picture(k, seed=i)) for i in range(8)] for c, k in (("a", RED), ("b", BLUE))})
    image_store.put(images)
    folder = make_dataset(folder_config(images, size=16))
    net = ModelSpec(folder.input_shape, 2, (layer("flatten"), layer("linear", out_features=2)))
    manager = TrainingManager(ModelCache(tmp_path), FakeExecutor())
    job = manager.submit(net, folder, TrainConfig(epochs=1), who="a")
    monkeypatch.setattr(image_store, "MAX_STORE_BYTES", 1)
    image_store.put(from_files({c: [(str(i), picture(k, seed=50 + i)) for i in range(8)]
                                for c, k in (("a", RED), ("b", BLUE))}))  # fmt: skip
    assert image_store.has(images.digest)  # queued or running: never evicted
    finish(job.handle)
    assert not list((image_store.store_dir() / image_store.LEASES).iterdir())


def test_a_run_the_executor_refuses_is_a_failed_job_with_the_reason_and_is_not_kept(manager, ds, spec, monkeypatch):
    def refuse(request):
        raise ValueError("this run asks for 8 CPU(s) … or add a bigger node")

    monkeypatch.setattr(manager.executor, "submit", refuse)
    job = manager.submit(spec, ds, TrainConfig(epochs=2), who="a")  # was: the ValueError, a page exception
    assert job.state == "failed" and job.snapshot()["error"].startswith("this run asks for 8 CPU(s)")
    assert manager.watchers() == 0  # nothing left waiting: the next press submits again
    monkeypatch.undo()
    assert manager.submit(spec, ds, TrainConfig(epochs=2), who="a").state == "running"
