"""The Ray back end: `RayExecutor`, each run a Ray task on the cluster at `$CNN_LAB_RAY_ADDRESS`; progress and
stop travel through a small actor per run."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from typing import Any

from cnn_core.runs.request import PACKAGE, POLL_EVERY, RunHandle, TrainRequest, describe_error, run_from_bytes, train_request

RAY_ADDRESS_VAR = "CNN_LAB_RAY_ADDRESS"  # environment variable: a Ray cluster to train on instead
RAY_FLUSH_EVERY = 0.2  # seconds between two progress messages (and stop checks) of a Ray task


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
            run, error = run_from_bytes(ray.get(ref)), ""
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
