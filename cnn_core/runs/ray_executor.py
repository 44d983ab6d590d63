"""The Ray back end: `RayExecutor`, each run a Ray task on the cluster at `$CNN_LAB_RAY_ADDRESS`; progress and
stop travel through a small actor per run.

A request is checked at submit against the cluster's nodes (`check_fits`): one that no node can run is a clear
error, never a task that waits for ever. A stop that the task doesn't honour within STOP_GRACE seconds (it may
still wait for a free node) is made good by cancelling the task.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from typing import Any

from cnn_core.runs.request import PACKAGE, POLL_EVERY, RunHandle, TrainRequest, describe_error, run_from_bytes, train_request
from cnn_core.runs.resources import worker_bytes

logger = logging.getLogger(__name__)
RAY_ADDRESS_VAR = "CNN_LAB_RAY_ADDRESS"  # environment variable: a Ray cluster to train on instead
RAY_FLUSH_EVERY = 0.2  # seconds between two progress messages (and stop checks) of a Ray task
STOP_GRACE = 5.0  # seconds a Ray task has to honour a stop before it is cancelled (its model then is lost)


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


NEEDS = {"CPU": "ask for fewer threads (--threads)", "GPU": "train on the CPU (--device cpu)",
         "memory": "free memory on a node"}  # what a run asks of a node, and how a person can ask for less


def _amounts(resources: dict[str, float]) -> str:
    cpus, gpus, memory = (resources.get(k, 0) for k in NEEDS)
    return f"{cpus:g} CPU(s), {gpus:g} GPU(s) and {memory / 1e9:.2f} GB of memory"


def check_fits(wants: dict[str, float], nodes: list[dict[str, Any]], address: str) -> None:
    """ValueError unless one live node of the cluster (`ray.nodes()`) has the CPUs, GPUs and memory that a run
    asks for: Ray would keep such a task waiting, without a word, until a node that big joins."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    if any(all(res.get(k, 0) >= need for k, need in wants.items()) for res in alive):
        return
    if not alive:
        raise ValueError(f"the Ray cluster at {RAY_ADDRESS_VAR}={address} has no live node")
    largest = max(alive, key=lambda res: tuple(res.get(k, 0) for k in ("GPU", "CPU", "memory")))
    short = next((k for k in NEEDS if largest.get(k, 0) < wants.get(k, 0)), "CPU")
    raise ValueError(f"this run asks for {_amounts(wants)}, but the largest node of the Ray cluster at "
                     f"{RAY_ADDRESS_VAR}={address} has {_amounts(largest)}: {NEEDS[short]} or add a bigger node")


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
        try:
            ray.init(address=address, runtime_env={"py_modules": [str(PACKAGE)], "excludes": ["__pycache__"]},
                     log_to_driver=False, ignore_reinit_error=True, logging_level="ERROR")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError and friends
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"cannot connect to the Ray cluster at {RAY_ADDRESS_VAR}={address}: {first}") from None
        self._ray = ray
        self._task = ray.remote(max_retries=0)(_ray_train)
        self._channel = ray.remote(num_cpus=0)(_Channel)
        self._gpus = ray.cluster_resources().get("GPU", 0) > 0
        self._active: dict[RunHandle, tuple[Any, Any]] = {}  # handle → (channel actor, result ref)
        self._stopping: dict[RunHandle, float] = {}  # handle → time.monotonic() when its stop was asked
        self._cancelled: set[RunHandle] = set()  # runs whose task was cancelled, their stop overdue
        self._lock = threading.Lock()
        self._closed = False
        self._collector = threading.Thread(target=self._collect, daemon=True, name="cnn-lab-ray-executor")
        self._collector.start()

    def warm(self) -> None:
        """Nothing to start ahead: the cluster's nodes keep their own worker processes."""

    def submit(self, request: TrainRequest) -> RunHandle:
        if self._closed:
            raise ValueError("this executor has been shut down")
        if not request.threads:
            request = dataclasses.replace(request, threads=self.threads)
        gpu = request.device == "cuda" or (request.device == "auto" and self._gpus)
        wants = {"CPU": request.threads, "GPU": 1 if gpu else 0, "memory": worker_bytes("cuda" if gpu else "cpu")}
        check_fits(wants, self._ray.nodes(), self.address)
        handle = RunHandle(request, self._stop)
        channel = self._channel.remote()
        ref = self._task.options(num_cpus=wants["CPU"], num_gpus=wants["GPU"], memory=wants["memory"]).remote(
            request, channel)  # fmt: skip
        handle._begin()  # Ray queues it on the cluster; from here it runs as soon as resources allow
        with self._lock:
            self._active[handle] = (channel, ref)
        return handle

    def _stop(self, handle: RunHandle) -> None:
        with self._lock:
            entry = self._active.get(handle)
            if entry is not None:
                self._stopping.setdefault(handle, time.monotonic())
        if entry is not None:
            entry[0].stop.remote()

    def _cancel_overdue(self, active) -> None:
        """Cancel the tasks that haven't honoured a stop within STOP_GRACE seconds (waiting for a node, or stuck)."""
        now = time.monotonic()
        with self._lock:
            overdue = [h for h, _ in active if now - self._stopping.get(h, now) > STOP_GRACE and h not in self._cancelled]
            self._cancelled.update(overdue)
        for handle, (_, ref) in active:
            if handle in overdue:
                logger.warning("run %s did not stop within %g s: cancelling its Ray task", handle.key, STOP_GRACE)
                self._ray.cancel(ref, force=True)

    def _collect(self) -> None:
        """The thread that drains progress and finishes handles; an error is logged and it goes on."""
        while not self._closed:
            time.sleep(POLL_EVERY)
            with self._lock:
                active = list(self._active.items())
            try:
                if active:
                    self._turn(active)
            except Exception:  # noqa: BLE001 - logged; the thread must live on for every other run
                logger.exception("the Ray executor's reader thread hit an error; it goes on")

    def _turn(self, active) -> None:
        ray = self._ray
        self._cancel_overdue(active)
        finished, _ = ray.wait([ref for _, (_, ref) in active], num_returns=len(active), timeout=0)
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
            run, error = run_from_bytes(ray.get(ref)), ""
        except Exception as exc:  # noqa: BLE001 - a task's failure is the run's failure
            cause = getattr(exc, "cause", None) or exc
            run, error = None, describe_error(cause).splitlines()[0] if str(cause) else describe_error(cause)
            if handle in self._cancelled:
                error = (f"stopped: the run did not stop within {STOP_GRACE:g} s (it may have been waiting for a free "
                         "node), so its Ray task was cancelled and nothing was kept")  # fmt: skip
        with self._lock:
            self._active.pop(handle, None)
            self._stopping.pop(handle, None)
            self._cancelled.discard(handle)
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
