"""Where training runs: an executor takes a `TrainRequest` and gives back a `RunHandle` at once.

Two back ends behind one interface. `LocalExecutor`: a pool of `$CNN_LAB_MAX_RUNS` worker processes, each a
fresh interpreter (`python -m cnn_core.runs.worker`) that runs nothing of its parent; `RayExecutor`: each run a
Ray task on the cluster at `$CNN_LAB_RAY_ADDRESS`. Either way the run happens in a process of its own, which
sets its torch threads and its seeds (fit seeds from the config), rebuilds the dataset from its config, sends
progress events back and returns the checkpoint's bytes. Nothing about a run changes the state of the process
that submits it (threads, random streams).

About 600 lines: the request, the handle, the worker loop and both back ends share one protocol (events,
stop, result) that reads best in one place; splitting it would spread that protocol over files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from multiprocessing.connection import Client, wait
from pathlib import Path
from typing import Any

from cnn_core.data.config import DataConfig
from cnn_core.nets.spec import ModelSpec
from cnn_core.training.config import TrainConfig
from cnn_core.training.device import cpu_count

RAY_ADDRESS_VAR = "CNN_LAB_RAY_ADDRESS"  # environment variable: a Ray cluster to train on instead
BATCH_EVERY = 0.1  # seconds between two batch events from a worker
RAY_FLUSH_EVERY = 0.2  # seconds between two progress messages (and stop checks) of a Ray task
POLL_EVERY = 0.1  # seconds the executor's collector thread waits for news


@dataclass(frozen=True)
class TrainRequest:
    """Everything a worker needs to train one run, as plain configs (picklable, JSON round-trip)."""

    data_config: DataConfig  # the worker rebuilds the dataset with make_dataset(data_config)
    spec: ModelSpec  # the network, already fitted to the dataset's input and classes
    config: TrainConfig  # the hyperparameters and the seed
    device: str = "auto"  # "auto", "cuda", "mps" or "cpu", resolved in the worker
    threads: int = 0  # torch CPU threads in the worker; 0 = the executor decides
    who: str = ""  # an anonymous session label, stored in the run registry

    def key(self) -> str:
        """The configuration key: the same for every request that must give the same run."""
        from cnn_core.training.run import run_key

        return run_key(self.data_config, self.spec, self.config)

    def to_dict(self) -> dict[str, Any]:
        return {"data_config": self.data_config.to_dict(), "spec": self.spec.to_dict(),
                "config": self.config.to_dict(), "device": self.device, "threads": self.threads, "who": self.who}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainRequest:
        return cls(DataConfig.from_dict(data["data_config"]), ModelSpec.from_dict(data["spec"]),
                   TrainConfig.from_dict(data["config"]), data.get("device", "auto"), int(data.get("threads", 0)),
                   data.get("who", ""))  # fmt: skip


class RunHandle:
    """One submitted run as its submitter sees it: progress events, stop, and the result when done."""

    def __init__(self, request: TrainRequest, stop: Callable[[RunHandle], None]):
        self.request = request
        self.key = request.key()
        self.state = "queued"  # queued → running → done | failed
        self.position = 0  # place in this executor's queue (1 = next); 0 once running
        self.started = 0.0  # time.monotonic() when it began to train
        self.stop_requested = False
        self._stop = stop
        self._lock = threading.Lock()
        self._events: list[dict] = []
        self._finished = threading.Event()
        self._run = None
        self._error = ""
        self._callbacks: list[Callable[[RunHandle], None]] = []

    def poll(self) -> list[dict]:
        """Progress events since the last poll, in order: {"kind": "batch", "done", "total"}, {"kind": "epoch", …}."""
        with self._lock:
            events, self._events = self._events, []
        return events

    def stop(self) -> None:
        """Ask the worker to stop (it does within a second, keeping the model trained so far)."""
        self.stop_requested = True
        self._stop(self)

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run is done, at most `timeout` seconds; whether it is."""
        return self._finished.wait(timeout)

    def result(self, timeout: float | None = None):
        """The TrainedRun; ValueError with the reason if the run failed, TimeoutError if not done in time."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"the run {self.key} is not done after {timeout} s")
        if self._error:
            raise ValueError(self._error)
        return self._run

    def error(self) -> str:
        """Why the run failed ("" while it runs or if it succeeded)."""
        return self._error

    def add_done_callback(self, callback: Callable[[RunHandle], None]) -> None:
        """Call `callback(handle)` when the run is done (at once if it already is), on the executor's thread."""
        with self._lock:
            if not self._finished.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    # the executor's side

    def _begin(self) -> None:
        self.state, self.position, self.started = "running", 0, time.monotonic()

    def _push(self, events: list[dict]) -> None:
        with self._lock:
            self._events.extend(events)

    def _finish(self, run=None, error: str = "") -> None:
        with self._lock:
            self._run, self._error = run, error
            self.state = "failed" if error else "done"
            self._finished.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - one bad callback must not stop the executor's thread
                pass


# ---------------------------------------------------------------- what a worker does


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


@lru_cache(maxsize=2)
def _dataset(config: DataConfig):
    from cnn_core.data.dataset import make_dataset

    return make_dataset(config)


def train_request(request: TrainRequest, *, stop: Callable[[], bool], emit: Callable[[dict], None]) -> bytes:
    """Train one request in this (worker) process and return the checkpoint's bytes.

    Sets this process's torch threads and seeds: a worker process belongs to one run at a time, so its global
    random stream (dropout, augmentation) is the run's own.
    """
    import numpy as np
    import torch

    from cnn_core.runs.checkpoint import checkpoint_bytes
    from cnn_core.training.engine import fit

    torch.set_num_threads(request.threads or cpu_count())
    random.seed(request.config.seed)
    np.random.seed(request.config.seed % 2**32)
    torch.manual_seed(request.config.seed)
    last = [0.0]

    def on_batch(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= BATCH_EVERY:
            last[0] = now
            emit({"kind": "batch", "done": done, "total": total})

    run = fit(request.spec, _dataset(request.data_config), request.config, device=request.device, stop=stop,
              on_epoch=lambda record: emit({"kind": "epoch", **record}), on_batch=on_batch)  # fmt: skip
    return checkpoint_bytes(run)


def worker_loop(conn) -> None:
    """A local worker process (`cnn_core.runs.worker`): train the requests that arrive, one at a time, until told to
    quit. While a run trains, the messages that arrive are ("stop", token) or None (quit, which stops it too)."""
    import torch  # noqa: F401 - imported while idle, so that the first run starts at once

    quit_after = False
    while not quit_after:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message[0] == "stop":  # for a run that had already ended
            continue
        token, request = message
        stopped = False

        def stop(token: int = token) -> bool:
            nonlocal stopped, quit_after
            try:
                while conn.poll():
                    news = conn.recv()
                    stopped = stopped or news is None or news == ("stop", token)
                    quit_after = quit_after or news is None
            except (EOFError, OSError):  # the executor is gone: stop, then end
                stopped = quit_after = True
            return stopped

        def emit(event: dict, token: int = token) -> None:
            conn.send((token, "event", event))

        try:
            outcome = (token, "result", train_request(request, stop=stop, emit=emit))
        except BaseException as exc:  # noqa: BLE001 - reported to the submitter; the worker lives on
            outcome = (token, "error", describe_error(exc))
        try:
            conn.send(outcome)
        except OSError:  # the executor is gone: nobody to tell
            return


def _run_from_bytes(data: bytes):
    from cnn_core.runs.checkpoint import load_checkpoint

    return load_checkpoint(data, verify=False)  # just written by our own worker


# ---------------------------------------------------------------- the local process pool


PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder that holds cnn_core, for the workers' imports


class _Slot:
    """One worker process (`python -m cnn_core.runs.worker`, a fresh interpreter) and the run it is training."""

    def __init__(self, nice: int = 0) -> None:
        key = os.urandom(32)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}  # fmt: skip
        command = [sys.executable, "-m", "cnn_core.runs.worker"] + (["--nice", str(nice)] if nice else [])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        with self.process.stdin, self.process.stdout:
            self.process.stdin.write(key.hex().encode() + b"\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise ValueError(f"a training worker could not start (exit code {self.process.wait()}); "
                             "its error output is in the server's log")  # fmt: skip
        self.conn = Client(json.loads(line), authkey=key)
        self.handle: RunHandle | None = None
        self.token = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        """Ask the worker to quit, then make sure it has (a run in progress stops first)."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.conn.close()


class LocalExecutor:
    """A pool of worker processes (`cnn_core.runs.worker`), `max_runs` runs at a time; the others wait in line.

    `nice`: the workers' CPU priority (the app's are below its web server's: cnn_core.runs.resources.plan)."""

    name = "local"

    def __init__(self, max_runs: int | None = None, threads: int | None = None, nice: int = 0):
        from cnn_core.runs.resources import read_limits, server_plan

        # What the container may use ($CNN_LAB_MAX_RUNS, else sized to its cores and memory): cnn_core.runs.resources.
        self.max_runs = max(1, max_runs or server_plan().max_runs)
        # torch threads per run: the cores shared out among the runs (the app passes its plan, which does the same)
        self.threads = threads or max(1, int(read_limits().cpus) // self.max_runs)
        self.nice = nice
        self._slots: list[_Slot] = []  # started on first use
        self._pending: deque[tuple[int, RunHandle]] = deque()
        self._lock = threading.Lock()
        self._tokens = count(1)
        self._collector: threading.Thread | None = None
        self._closed = False

    def submit(self, request: TrainRequest) -> RunHandle:
        if self._closed:
            raise ValueError("this executor has been shut down")
        if not request.threads:
            request = dataclasses.replace(request, threads=self.threads)
        handle = RunHandle(request, self._stop)
        with self._lock:
            if not self._slots:
                self._slots = [_Slot(self.nice) for _ in range(self.max_runs)]
            self._pending.append((next(self._tokens), handle))
            self._start_pending()
            if self._collector is None:
                self._collector = threading.Thread(target=self._collect, daemon=True, name="cnn-lab-executor")
                self._collector.start()
        return handle

    def queue_length(self) -> int:
        with self._lock:
            return len(self._pending)

    def shutdown(self) -> None:
        """Stop every run, end the worker processes and the collector thread."""
        with self._lock:
            self._closed = True
            for _, handle in self._pending:
                handle._finish(error="the executor shut down before the run started")
            self._pending.clear()
            slots, self._slots = self._slots, []
        for slot in slots:
            slot.end()
            if slot.handle is not None and not slot.handle.done():
                slot.handle._finish(error="the executor shut down during the run")
        if self._collector is not None and self._collector is not threading.current_thread():
            self._collector.join(timeout=5)

    def _stop(self, handle: RunHandle) -> None:
        with self._lock:
            for item in self._pending:
                if item[1] is handle:
                    self._pending.remove(item)
                    self._renumber()
                    handle._finish(error="stopped before it started")
                    return
            for slot in self._slots:
                if slot.handle is handle:
                    with contextlib.suppress(OSError):  # a dead worker: its run fails anyway
                        slot.conn.send(("stop", slot.token))

    def _renumber(self) -> None:
        for i, (_, handle) in enumerate(self._pending, 1):
            handle.position = i

    def _start_pending(self) -> None:
        """Give waiting runs to idle workers (the lock is held)."""
        for slot in self._slots:
            if slot.handle is None and self._pending:
                token, handle = self._pending.popleft()
                slot.handle, slot.token = handle, token
                handle._begin()
                slot.conn.send((token, handle.request))
        self._renumber()

    def _collect(self) -> None:
        """The one thread that reads the workers: routes events, finishes handles, replaces dead workers."""
        while not self._closed:
            with self._lock:
                busy = [s for s in self._slots if s.handle is not None]
            if not busy:
                time.sleep(POLL_EVERY)
                continue
            ready = wait([s.conn for s in busy], timeout=POLL_EVERY)  # a worker that dies closes its end: EOF
            for slot in busy:
                if slot.conn in ready:
                    self._read(slot)

    def _read(self, slot: _Slot) -> None:
        events, outcome, gone = [], None, False
        try:
            while outcome is None and slot.conn.poll():
                token, kind, payload = slot.conn.recv()
                if token != slot.token:
                    continue
                if kind == "event":
                    events.append(payload)
                else:
                    outcome = (kind, payload)
        except (EOFError, OSError):
            gone = True
        handle = slot.handle
        if handle is None:
            return
        handle._push(events)
        if outcome is None and gone:
            try:
                code = slot.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # its connection broke, yet it lives: end it, the run is lost anyway
                slot.process.kill()
                code = slot.process.wait(timeout=10)
            outcome = ("error", f"the worker process died (exit code {code}); the run is lost")
        if outcome is None:
            return
        kind, payload = outcome
        if kind == "result":
            try:
                run, error = _run_from_bytes(payload), ""
            except ValueError as exc:
                run, error = None, str(exc)
        else:
            run, error = None, payload
        with self._lock:
            slot.handle = None
            if not slot.alive() and not self._closed:
                slot.conn.close()
                self._slots[self._slots.index(slot)] = _Slot(self.nice)
            if not self._closed:
                self._start_pending()
        handle._finish(run, error)


# ---------------------------------------------------------------- Ray


class _Channel:
    """A Ray actor per run: the task pushes progress (and learns of a stop); the submitter drains it."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.stopped = False

    def push(self, events: list[dict]) -> bool:
        self.events.extend(events)
        return self.stopped

    def drain(self) -> list[dict]:
        events, self.events = self.events, []
        return events

    def stop(self) -> None:
        self.stopped = True


def _ray_train(request: TrainRequest, channel) -> bytes:
    """A Ray task: train the request, sending progress to its channel every RAY_FLUSH_EVERY seconds."""
    import ray

    state = {"buffer": [], "last": 0.0, "stop": False}

    def flush(force: bool = False) -> None:
        if force or time.monotonic() - state["last"] >= RAY_FLUSH_EVERY:
            state["stop"] = ray.get(channel.push.remote(state["buffer"]))
            state["buffer"], state["last"] = [], time.monotonic()

    def emit(event: dict) -> None:
        state["buffer"].append(event)
        flush(event["kind"] == "epoch")

    def stop() -> bool:
        flush()
        return state["stop"]

    data = train_request(request, stop=stop, emit=emit)
    flush(force=True)
    return data


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """ValueError naming the address unless something listens there (ray.init itself would wait for minutes)."""
    if address in ("auto", "local"):
        return
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{RAY_ADDRESS_VAR}={address!r} is not a Ray address such as 127.0.0.1:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"cannot reach the Ray cluster at {RAY_ADDRESS_VAR}={address} "
                         f"({exc.strerror or exc}): is `ray start --head` running there?") from None  # fmt: skip


class RayExecutor:
    """Each run a Ray task with its own CPUs (and a GPU where the device asks for one) on a cluster."""

    name = "ray"

    def __init__(self, address: str, threads: int | None = None):
        try:
            import ray
        except ImportError:
            raise ValueError(f"{RAY_ADDRESS_VAR} is set but Ray is not installed: pip install \"ray[default]\"") from None
        check_reachable(address)
        self.address = address
        self.threads = threads or 1  # CPUs (and torch threads) per run: the cluster's nodes add up
        package = str(Path(__file__).resolve().parent)
        try:
            ray.init(address=address, runtime_env={"py_modules": [package], "excludes": ["__pycache__"]},
                     log_to_driver=False, ignore_reinit_error=True, logging_level="ERROR")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError and friends
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"cannot connect to the Ray cluster at {RAY_ADDRESS_VAR}={address}: {first}") from None
        self._ray = ray
        self._task = ray.remote(max_retries=0)(_ray_train)
        self._channel = ray.remote(num_cpus=0)(_Channel)
        self._gpus = ray.cluster_resources().get("GPU", 0) > 0
        self._active: dict[RunHandle, tuple[Any, Any]] = {}  # handle → (channel actor, result ref)
        self._lock = threading.Lock()
        self._closed = False
        self._collector = threading.Thread(target=self._collect, daemon=True, name="cnn-lab-ray-executor")
        self._collector.start()

    def submit(self, request: TrainRequest) -> RunHandle:
        if self._closed:
            raise ValueError("this executor has been shut down")
        if not request.threads:
            request = dataclasses.replace(request, threads=self.threads)
        gpu = request.device == "cuda" or (request.device == "auto" and self._gpus)
        handle = RunHandle(request, self._stop)
        channel = self._channel.remote()
        ref = self._task.options(num_cpus=request.threads, num_gpus=1 if gpu else 0).remote(request, channel)
        handle._begin()  # Ray queues it on the cluster; from here it runs as soon as resources allow
        with self._lock:
            self._active[handle] = (channel, ref)
        return handle

    def _stop(self, handle: RunHandle) -> None:
        with self._lock:
            entry = self._active.get(handle)
        if entry is not None:
            entry[0].stop.remote()

    def _collect(self) -> None:
        ray = self._ray
        while not self._closed:
            time.sleep(POLL_EVERY)
            with self._lock:
                active = list(self._active.items())
            if not active:
                continue
            refs = [ref for _, (_, ref) in active]
            finished, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            finished = set(finished)
            for handle, (channel, ref) in active:
                try:
                    handle._push(ray.get(channel.drain.remote(), timeout=30))
                except Exception:  # noqa: BLE001 - progress is best effort; the result decides
                    pass
                if ref in finished:
                    self._finish(handle, channel, ref)

    def _finish(self, handle: RunHandle, channel, ref) -> None:
        ray = self._ray
        try:
            run, error = _run_from_bytes(ray.get(ref)), ""
        except Exception as exc:  # noqa: BLE001 - a task's failure is the run's failure
            cause = getattr(exc, "cause", None) or exc
            run, error = None, describe_error(cause).splitlines()[0] if str(cause) else describe_error(cause)
        with self._lock:
            self._active.pop(handle, None)
        ray.kill(channel)
        handle._finish(run, error)

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            active, self._active = list(self._active.items()), {}
        for handle, (channel, ref) in active:
            self._ray.cancel(ref, force=True)
            self._ray.kill(channel)
            handle._finish(error="the executor shut down during the run")
        self._collector.join(timeout=5)
        self._ray.shutdown()


def train_to_end(request: TrainRequest, on_epoch: Callable[[dict], None] | None = None, executor=None):
    """Train one request on `executor` (default: make_executor's, shut down after) and wait; (run, executor name).

    Epoch records go to `on_epoch` as they arrive; Ctrl-C stops the run and keeps the model trained so far.
    """
    own = executor is None
    executor = make_executor(max_runs=1) if own else executor

    def report() -> None:
        for event in handle.poll():
            if event["kind"] == "epoch" and on_epoch is not None:
                on_epoch({k: v for k, v in event.items() if k != "kind"})

    try:
        handle = executor.submit(request)
        try:
            while not handle.wait(POLL_EVERY):
                report()
        except KeyboardInterrupt:
            handle.stop()
        handle.wait()
        report()
        return handle.result(), executor.name
    finally:
        if own:
            executor.shutdown()


def make_executor(max_runs: int | None = None, threads: int | None = None,
                  nice: int = 0) -> LocalExecutor | RayExecutor:  # fmt: skip
    """A RayExecutor if $CNN_LAB_RAY_ADDRESS is set (ValueError if it can't be reached), else a LocalExecutor.

    `threads` and `nice` size the local workers only: a cluster's nodes don't run the web server.
    """
    address = os.environ.get(RAY_ADDRESS_VAR, "").strip()
    return RayExecutor(address) if address else LocalExecutor(max_runs, threads, nice)
