"""Fault injection on the local executor, with real worker processes: kill -9 an idle and a busy worker, a
replacement that cannot start, an error inside the reader thread. After each: the affected run fails with a
message (never "running" for ever), and the next run trains."""

import logging
import os
import signal
import sys
import threading

import pytest

from cnn_core.runs import local, worker
from cnn_core.runs.local import LocalExecutor
from tests.run_helpers import kill_9, tiny_request
from tests.run_helpers import worker_pids as all_workers

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers through Linux's /proc")


OTHERS: set[int] = set()  # workers this test process already had when the test began


@pytest.fixture(autouse=True)
def _others():
    """Another test's executor in this process may still be ending its workers: not this test's to count or kill."""
    OTHERS.clear()
    OTHERS.update(all_workers())


def worker_pids() -> list[int]:
    """This test's workers, found by their command line as an operator would."""
    return [pid for pid in all_workers() if pid not in OTHERS]


def trained(handle) -> bool:
    """Whether the run trained to its end (a one-epoch run of the tiny net may be "unstable": that's training's)."""
    run = handle.result(timeout=120)
    return run.summary["epochs_run"] == run.train_config["epochs"]


def until_training(handle) -> None:
    while not handle.poll():
        assert not handle.done(), handle.error()
        threading.Event().wait(0.05)


@pytest.fixture
def executor():
    ex = LocalExecutor(max_runs=1, threads=1)
    yield ex
    ex.shutdown()


def test_a_worker_killed_while_idle_is_replaced_and_the_next_run_trains(executor, caplog):
    executor.submit(tiny_request(epochs=1)).result(timeout=120)
    (idle,) = worker_pids()
    kill_9([idle])
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        assert trained(executor.submit(tiny_request(epochs=1, seed=1)))  # was: BrokenPipeError
    assert len(worker_pids()) == 1 and worker_pids() != [idle]
    assert any(f"training worker {idle} ended (killed by signal SIGKILL" in r.getMessage() for r in caplog.records)


def test_a_run_given_to_a_worker_as_it_dies_goes_to_the_next_worker(executor):
    executor.submit(tiny_request(epochs=1)).result(timeout=120)
    (dying,) = worker_pids()
    os.kill(dying, signal.SIGSTOP)  # it can't take the run it is given…
    handle = executor.submit(tiny_request(epochs=1, seed=1))
    assert handle.state == "running"
    kill_9([dying])  # …before it dies
    assert trained(handle)  # was: "the worker process died"


def test_busy_and_idle_workers_killed_together_fail_the_run_with_its_reason_and_the_next_runs_train():
    ex = LocalExecutor(max_runs=2, threads=1)
    try:
        busy = ex.submit(tiny_request(epochs=1000))
        until_training(busy)
        kill_9(worker_pids())  # both: the one training and the idle one
        with pytest.raises(ValueError, match="worker process died .killed by signal SIGKILL.*train it again"):
            busy.result(timeout=60)
        assert busy.state == "failed"
        again = [ex.submit(tiny_request(epochs=1, seed=s)) for s in (1, 2)]
        assert all(map(trained, again))
    finally:
        ex.shutdown()


@pytest.mark.parametrize("command", [("/nonexistent/python",), (sys.executable, "-c", "raise SystemExit(3)")],
                         ids=["missing-interpreter", "exits-at-once"])  # fmt: skip
def test_a_replacement_that_cannot_start_fails_the_waiting_runs_and_is_tried_again(executor, monkeypatch, command,
                                                                                  caplog):  # fmt: skip
    running, waiting = executor.submit(tiny_request(epochs=1000)), executor.submit(tiny_request(seed=1))
    until_training(running)
    monkeypatch.setattr(worker, "WORKER_COMMAND", command)
    with caplog.at_level(logging.ERROR, logger=local.__name__):
        kill_9(worker_pids())
        with pytest.raises(ValueError, match="worker process died"):
            running.result(timeout=60)
        with pytest.raises(ValueError, match="the training worker could not start: .*try again"):
            waiting.result(timeout=60)  # was: queued for ever, and the reader thread dead
        later = executor.submit(tiny_request(seed=2))  # still broken: this one fails too, with the reason
        with pytest.raises(ValueError, match="No such file|exit code 3"):
            later.result(timeout=60)
    assert waiting.state == later.state == "failed" and executor.queue_length() == 0
    assert any("could not start" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    monkeypatch.undo()  # the cause removed: the next submit starts a worker again
    assert trained(executor.submit(tiny_request(seed=3)))


def test_the_reader_thread_survives_an_error_and_fails_only_the_run_it_concerned(executor, monkeypatch, caplog):
    def broken(data):
        raise RuntimeError("injected: a result that cannot be read")

    monkeypatch.setattr(local, "run_from_bytes", broken)
    with caplog.at_level(logging.ERROR, logger=local.__name__):
        with pytest.raises(ValueError, match="executor lost this run .RuntimeError: injected"):
            executor.submit(tiny_request(epochs=1)).result(timeout=120)  # was: "running" for ever
    assert any(r.exc_info for r in caplog.records)  # logged with its traceback
    monkeypatch.undo()
    calls = []

    def wait_failing_once(*args, **kwargs):  # an error outside any one run's reading
        calls.append(1)
        if len(calls) == 1:
            raise OSError("injected: the wait failed")
        return real_wait(*args, **kwargs)

    real_wait = local.wait
    monkeypatch.setattr(local, "wait", wait_failing_once)
    assert trained(executor.submit(tiny_request(epochs=1, seed=1)))
    assert len(calls) > 1
