"""The local process pool: `LocalExecutor`, `$CNN_LAB_MAX_RUNS` worker processes, each a fresh interpreter
(`python -m cnn_core.runs.worker`) that runs nothing of its parent; the others wait in line."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from itertools import count
from multiprocessing.connection import Client, wait

from cnn_core.runs.request import PACKAGE, POLL_EVERY, RunHandle, TrainRequest, run_from_bytes


class _Slot:
    """One worker process (`python -m cnn_core.runs.worker`, a fresh interpreter) and the run it is training."""

    def __init__(self, nice: int = 0) -> None:
        key = os.urandom(32)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent),
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
                run, error = run_from_bytes(payload), ""
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
