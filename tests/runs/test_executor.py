"""The executor: runs in worker processes with progress, stop, failures, reproducibility; Ray on a real cluster."""

import json
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer
from cnn_core.nets.presets import network
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.checkpoint import load_checkpoint
from cnn_core.runs.launch import make_executor, train_to_end
from cnn_core.runs.local import LocalExecutor
from cnn_core.runs.ray_executor import RAY_ADDRESS_VAR, RayExecutor, check_fits
from cnn_core.runs.request import PACKAGE, TrainRequest
from cnn_core.runs.resources import THREADS_VAR, read_limits
from cnn_core.training.config import TrainConfig
from cnn_core.training.engine import fit
from tests.conftest import ROOT
from tests.helpers import run_cli
from tests.run_helpers import TRAIN_DATA, TRAIN_INPUT, same_weights, tiny_request

DATA = TRAIN_DATA
TEST_RAY_VAR = "CNN_LAB_TEST_RAY_ADDRESS"  # .ci/run points it at the cluster it starts
request = tiny_request


def dropout_request(epochs: int, seed: int = 0) -> TrainRequest:
    """Dropout and augmentation draw from torch's global random stream: the state a run must own."""
    spec = ModelSpec(TRAIN_INPUT, 3, (layer("conv2d", out_channels=8, padding=1), layer("relu"), layer("dropout2d", p=0.3),
                                    layer("flatten"), layer("dropout", p=0.3), layer("linear", out_features=3)))  # fmt: skip
    cfg = TrainConfig(epochs=epochs, batch_size=16, seed=seed, rotation=10, precision="fp32")
    return TrainRequest(DATA, spec, cfg, device="cpu")


@pytest.fixture(scope="module")
def executor():
    ex = LocalExecutor(max_runs=2, threads=1)
    yield ex
    ex.shutdown()


def test_warm_starts_the_workers_before_any_run_and_the_first_run_takes_one():
    from benchmarks._server import maps_torch

    ex = LocalExecutor(max_runs=1, threads=1)
    try:
        assert ex.worker_pids() == []  # nothing starts until a run, or warm, asks
        ex.warm()
        (pid,) = ex.worker_pids()
        deadline = time.monotonic() + 60
        while not maps_torch(pid) and time.monotonic() < deadline:  # the idle worker imports torch meanwhile
            time.sleep(0.1)
        assert maps_torch(pid)
        run = ex.submit(request(epochs=1)).result(timeout=120)
        assert run.summary["status"] == "completed" and ex.worker_pids() == [pid]  # the warm worker trained it
        ex.warm()  # every worker is up: nothing more starts
        assert ex.worker_pids() == [pid]
    finally:
        ex.shutdown()
    ex.warm()  # shut down: nothing starts again
    assert ex.worker_pids() == []


def test_a_request_round_trips_through_json_and_pickle():
    req = request(who="anon-7")
    assert TrainRequest.from_dict(req.to_dict()) == req == pickle.loads(pickle.dumps(req))
    assert req.key() == request().key() != request(seed=1).key()  # who asked doesn't change what is trained


def test_a_run_trains_in_a_worker_and_reports_its_progress(executor):
    rng, threads = torch.random.get_rng_state(), torch.get_num_threads()
    handle = executor.submit(request(epochs=3))
    run = handle.result(timeout=120)
    events = handle.poll()
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and run.history == [
        {k: v for k, v in e.items() if k != "kind"} for e in epochs]  # fmt: skip
    assert any(e["kind"] == "batch" and e["done"] == e["total"] for e in events)
    assert handle.done() and handle.state == "done" and handle.poll() == []
    assert run.summary["status"] == "completed" and run.key == handle.key == request(epochs=3).key()
    assert len(run.run_id) == 32 and run.run_id != executor.submit(request(epochs=3)).result(120).run_id
    # nothing of the run touched this process: its random stream and thread count are as they were
    assert torch.equal(torch.random.get_rng_state(), rng) and torch.get_num_threads() == threads


def test_the_same_request_gives_identical_weights_alone_and_while_others_train(executor):
    alone = executor.submit(dropout_request(epochs=3)).result(timeout=120)
    busy = threading.Event()

    def build_and_train_here():  # another "session" in this process: seeds and trains on the global stream
        ds = make_dataset(DATA)
        while not busy.is_set():
            torch.manual_seed(123)
            build_model(network("digits_small", TRAIN_INPUT, 3))
            fit(dropout_request(1).spec, ds, TrainConfig(epochs=1, batch_size=64, seed=5), device="cpu")

    local = threading.Thread(target=build_and_train_here)
    local.start()
    other = executor.submit(dropout_request(epochs=6, seed=9))  # another worker process trains meanwhile
    again = executor.submit(dropout_request(epochs=3)).result(timeout=120)
    busy.set()
    local.join()
    other.result(timeout=120)
    assert alone.run_id != again.run_id and same_weights(alone, again)
    assert alone.history[-1]["train_loss"] == again.history[-1]["train_loss"]


def test_the_app_and_the_cli_train_one_configuration_to_the_same_weights_where_their_threads_agree(monkeypatch):
    """The app's workers (its plan: threads, nice) against the CLI's (`train_to_end`'s make_executor(max_runs=1));
    on 2 cores both train with 2 threads. A run with another thread count differs: the check can fail."""
    from cnn_core.runs.resources import server_plan

    monkeypatch.delenv(RAY_ADDRESS_VAR, raising=False)
    monkeypatch.delenv(THREADS_VAR, raising=False)
    plan = server_plan()
    app, cli = LocalExecutor(plan.max_runs, plan.threads_per_run, plan.worker_nice), make_executor(max_runs=1)
    if app.threads != cli.threads:
        app.shutdown()
        pytest.skip(f"on {read_limits().cpus:g} cores the app trains with {app.threads} threads, the CLI {cli.threads}")
    shapes = TrainRequest(DataConfig(n_per_class=20, val_fraction=0.2, test_fraction=0.0),
                          network("simple_cnn", (3, 32, 32), 4), TrainConfig(epochs=1, seed=0), device="cpu")  # fmt: skip
    other = LocalExecutor(max_runs=1, threads=1 if app.threads > 1 else 2)
    try:
        handles = [ex.submit(shapes) for ex in (app, cli, other)]  # their workers start at once
        runs = [h.result(timeout=300) for h in handles]
    finally:
        for ex in (app, cli, other):
            ex.shutdown()
    assert same_weights(runs[0], runs[1]) and not same_weights(runs[0], runs[2])


def test_stop_ends_a_running_run_and_keeps_the_model_so_far(executor):
    handle = executor.submit(request(epochs=1000))
    while not any(e["kind"] == "epoch" for e in handle.poll()):
        assert not handle.done()
        threading.Event().wait(0.05)
    handle.stop()
    run = handle.result(timeout=60)
    assert run.summary["status"] == "stopped" and 1 <= run.summary["epochs_run"] < 1000


def test_a_queued_run_stopped_never_starts_and_the_queue_moves_on():
    ex = LocalExecutor(max_runs=1, threads=1)
    try:
        first, second, third = ex.submit(request(epochs=1000)), ex.submit(request(seed=1)), ex.submit(request(seed=2))
        assert (first.state, second.position, third.position) == ("running", 1, 2)
        second.stop()
        with pytest.raises(ValueError, match="stopped before it started"):
            second.result(timeout=1)
        assert third.position == 1
        first.stop()
        assert first.result(timeout=120).summary["status"] == "stopped"
        assert third.result(timeout=120).summary["status"] == "completed"
    finally:
        ex.shutdown()


def test_a_shutdown_ends_the_workers_without_saying_it_restarts_them(caplog):
    ex = LocalExecutor(max_runs=1, threads=1)
    try:
        assert ex.submit(request(epochs=1)).result(timeout=120).summary["status"] == "completed"
    finally:
        with caplog.at_level(logging.INFO, logger="cnn_core.runs.local"):
            ex.shutdown()
    said = [r.getMessage() for r in caplog.records if r.name == "cnn_core.runs.local"]
    assert not [m for m in said if "starting another" in m], said


def test_a_failing_request_is_a_clear_error_and_the_worker_goes_on(executor):
    wrong = ModelSpec((3, 32, 32), 3, (layer("flatten"), layer("linear", out_features=3)))
    bad = executor.submit(TrainRequest(DATA, wrong, TrainConfig(epochs=1)))
    with pytest.raises(ValueError, match="with_io"):
        bad.result(timeout=120)
    assert bad.state == "failed" and "with_io" in bad.error()
    assert executor.submit(request(epochs=1)).result(timeout=120).summary["status"] == "completed"


def test_a_worker_that_dies_fails_its_run_and_is_replaced():
    ex = LocalExecutor(max_runs=1, threads=1)
    try:
        handle = ex.submit(request(epochs=1000))
        while not handle.poll():
            threading.Event().wait(0.05)
        ex._slots[0].process.kill()
        with pytest.raises(ValueError, match="worker process died"):
            handle.result(timeout=60)
        assert ex.submit(request(epochs=1)).result(timeout=120).summary["status"] == "completed"
    finally:
        ex.shutdown()


def test_workers_start_without_running_the_servers_main_script(tmp_path, monkeypatch):
    """In the app, __main__ is a page script (Streamlit's fake module); a worker must not run it again."""
    import types

    page = tmp_path / "page.py"
    page.write_text("raise SystemExit('a worker ran the page script')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    ex = LocalExecutor(max_runs=1, threads=1)
    try:
        run = ex.submit(request(epochs=1)).result(timeout=120)
    finally:
        ex.shutdown()
    assert run.summary["epochs_run"] == 1 and sys.modules["__main__"] is fake


def thread_nice_values(pid: int) -> list[int]:
    """The nice value of every thread of a process (Linux: field 19 of /proc/PID/task/TID/stat)."""
    return [int(stat.read_text().rsplit(")", 1)[1].split()[16]) for stat in Path(f"/proc/{pid}/task").glob("*/stat")]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads thread priorities from Linux's /proc")
def test_workers_train_with_every_thread_at_the_executor_s_nice_value_and_the_submitter_keeps_its_own(executor):
    ours = os.nice(0)
    niced = LocalExecutor(max_runs=1, threads=2, nice=7)
    try:
        run = niced.submit(request(epochs=1)).result(timeout=120)
        threads = thread_nice_values(niced._slots[0].process.pid)
    finally:
        niced.shutdown()
    assert run.summary["epochs_run"] == 1
    assert len(threads) >= 2 and set(threads) == {min(ours + 7, 19)}  # torch's own threads included
    executor.submit(request(epochs=1)).result(timeout=120)  # the default (the CLI's): the submitter's priority
    assert set(thread_nice_values(executor._slots[0].process.pid)) == {ours} and os.nice(0) == ours


def test_a_worker_whose_server_never_connects_ends_by_itself():
    import sys

    code = "import cnn_core.runs.worker as w; w.CONNECT_WITHIN = 0.5; w.main()"
    worker = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    worker.stdin.write(b"00" * 32 + b"\n")
    worker.stdin.flush()
    assert worker.stdout.readline()  # it listens and says where; nobody connects
    assert worker.wait(timeout=30) == 3


def test_done_callbacks_run_once_when_the_run_ends(executor):
    seen = []
    handle = executor.submit(request(epochs=1))
    handle.add_done_callback(lambda h: seen.append(h.result().run_id))
    run = handle.result(timeout=120)
    handle.add_done_callback(lambda h: seen.append("late"))
    threading.Event().wait(0.2)
    assert seen == [run.run_id, "late"]


def test_make_executor_is_local_by_default_and_names_an_unreachable_ray_address(monkeypatch):
    monkeypatch.delenv(RAY_ADDRESS_VAR, raising=False)
    ex = make_executor(max_runs=3)
    assert ex.name == "local" and ex.max_runs == 3
    ex.shutdown()
    alone, sized = make_executor(max_runs=1), make_executor(max_runs=1, threads=1)
    assert alone.threads == int(read_limits().cpus) and sized.threads == 1  # the CLI: every core; the app: its plan
    alone.shutdown(), sized.shutdown()
    monkeypatch.setenv(RAY_ADDRESS_VAR, "127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(ValueError, match=f"{RAY_ADDRESS_VAR}=127.0.0.1:9"):
        make_executor()


# ---------------------------------------------------------------- a real Ray cluster


@pytest.fixture(scope="module")
def ray_executor():
    address = os.environ.get(TEST_RAY_VAR)
    if not address:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI needs a Ray cluster for this test: .ci/run starts one and sets {TEST_RAY_VAR}")
        pytest.skip(f"no Ray cluster ({TEST_RAY_VAR} is not set; `ray start --head --num-cpus 2` and set it)")
    ex = RayExecutor(address)
    yield ex
    ex.shutdown()


def test_a_run_on_a_ray_cluster_reports_progress_and_gives_the_local_weights(ray_executor):
    handle = ray_executor.submit(request(epochs=3, threads=1))
    run = handle.result(timeout=300)
    events = handle.poll()
    assert ray_executor.name == "ray" and run.summary["status"] == "completed"
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [1, 2, 3]
    local = LocalExecutor(max_runs=1, threads=1)
    try:
        assert same_weights(run, local.submit(request(epochs=3, threads=1)).result(timeout=120))
    finally:
        local.shutdown()


def test_stop_reaches_a_run_on_a_ray_cluster(ray_executor):
    handle = ray_executor.submit(request(epochs=1000))
    events = []
    while not any(e["kind"] == "epoch" for e in events):
        assert not handle.done(), handle.error()
        events += handle.poll()
        threading.Event().wait(0.05)
    handle.stop()
    run = handle.result(timeout=60)
    assert run.summary["status"] == "stopped" and run.summary["epochs_run"] < 1000


def test_a_failing_request_on_a_ray_cluster_is_a_clear_error(ray_executor):
    wrong = ModelSpec((3, 32, 32), 3, (layer("flatten"), layer("linear", out_features=3)))
    with pytest.raises(ValueError, match="with_io"):
        ray_executor.submit(TrainRequest(DATA, wrong, TrainConfig(epochs=1))).result(timeout=300)


def test_a_request_that_no_node_of_the_ray_cluster_can_run_is_refused_at_submit(ray_executor):
    with pytest.raises(ValueError, match=r"asks for 512 CPU.*largest node of the Ray cluster.*--threads"):
        ray_executor.submit(request(threads=512))  # was: a task that waits for ever


def test_a_stop_that_a_ray_task_cannot_honour_cancels_it_and_ctrl_c_ends_the_cli_s_wait(ray_executor, monkeypatch):
    import _thread

    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
    if len(nodes) != 1:
        pytest.skip("needs a one-node cluster, which one run can fill")
    cpus = int(nodes[0]["CPU"])
    hog = ray_executor.submit(request(epochs=1000, threads=cpus))  # every CPU of the node
    until = []
    while not any(e["kind"] == "epoch" for e in until):
        assert not hog.done(), hog.error()
        until += hog.poll()
        threading.Event().wait(0.05)
    real_submit = ray_executor.submit

    def submit_then_ctrl_c(req):
        handle = real_submit(req)  # it waits for the node
        threading.Timer(0.5, _thread.interrupt_main).start()  # Ctrl-C while train_to_end waits
        return handle

    monkeypatch.setattr(ray_executor, "submit", submit_then_ctrl_c)
    try:
        with pytest.raises(ValueError, match="did not stop within .* cancelled"):  # was: waits until the hog ends
            train_to_end(request(seed=1, threads=cpus), executor=ray_executor)
    finally:
        hog.stop()
    assert hog.result(timeout=60).summary["status"] == "stopped"


def test_a_ray_request_is_checked_against_each_live_node_s_cpus_gpus_and_memory():
    nodes = [{"Alive": True, "Resources": {"CPU": 2.0, "memory": 4e9}},
             {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 1.0, "memory": 1e9}},
             {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0, "memory": 1e12}}]  # fmt: skip
    check_fits({"CPU": 2, "GPU": 0, "memory": 3e9}, nodes, "head:6379")
    check_fits({"CPU": 8, "GPU": 1, "memory": 5e8}, nodes, "head:6379")
    for wants, fix in [({"CPU": 16, "GPU": 0, "memory": 5e8}, "fewer threads"),
                       ({"CPU": 1, "GPU": 2, "memory": 5e8}, "on the CPU"),
                       ({"CPU": 8, "GPU": 1, "memory": 3e9}, "free memory")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"largest node .* has 8 CPU.s., 1 GPU.s. and 1.00 GB .*{fix}"):
            check_fits(wants, nodes, "head:6379")
    with pytest.raises(ValueError, match="no live node"):
        check_fits({"CPU": 1}, nodes[2:], "head:6379")


# ---------------------------------------------------------------- the CLI goes through the same executor


def test_the_cli_trains_on_the_executor_and_says_which_with_the_run_id(tmp_path, monkeypatch):
    monkeypatch.delenv(RAY_ADDRESS_VAR, raising=False)
    out = tmp_path / "run.pt"
    done = run_cli("train", "--dataset", "digits", "--arch", "digits_small", "--epochs", "1", "--json", "--out", out)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["executor"] == "local" and result["status"] == "completed"
    assert load_checkpoint(out).run_id == result["run_id"] and len(result["run_id"]) == 32


def test_the_cli_names_an_unreachable_ray_address_in_one_line(monkeypatch):
    monkeypatch.setenv(RAY_ADDRESS_VAR, "127.0.0.1:9")
    done = run_cli("train", "--dataset", "digits", "--arch", "digits_small", "--epochs", "1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"{RAY_ADDRESS_VAR}=127.0.0.1:9" in done.stderr and done.stdout == ""



def test_a_worker_starts_and_trains_when_the_server_runs_from_another_folder(tmp_path, monkeypatch):
    # As `streamlit run /path/to/streamlit_app.py` from elsewhere: the worker must find cnn_core through the
    # executor's PYTHONPATH, not through its working directory.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    executor = LocalExecutor(max_runs=1)
    try:
        run, name = train_to_end(request(epochs=1), executor=executor)
    finally:
        executor.shutdown()
    assert name == "local" and run.summary["epochs_run"] == 1


def test_the_package_that_workers_import_and_ray_ships_is_cnn_core_itself():
    assert PACKAGE == ROOT / "cnn_core" and (PACKAGE / "__init__.py").is_file()
