"""The local process pool: `LocalExecutor`, `$CNN_LAB_MAX_RUNS` worker processes, each a fresh interpreter
(`python -m cnn_core.runs.worker`) that runs nothing of its parent; the others wait in line.

It heals itself: one reader thread watches every worker, idle or busy; a worker that dies (the out-of-memory
killer's favourite is an idle one holding torch) is replaced, and its run, if it had one, fails with the reason.
A replacement that cannot start fails the runs waiting for it with a clear message and is tried again on the
next submit, else after a growing pause. No error ends the reader thread: each is logged and its run failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections import deque
from itertools import count
from multiprocessing.connection import wait

from cnn_core.runs.request import POLL_EVERY, RunHandle, TrainRequest, describe_error, run_from_bytes
from cnn_core.runs.worker import WorkerProcess, exit_text

logger = logging.getLogger(__name__)
RETRY_AFTER = (1.0, 30.0)  # seconds before a failed start is tried again: doubling from the first to the second


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
        self._slots: list[WorkerProcess | None] = [None] * self.max_runs  # None: not started yet, or died (started again)
        self._pending: deque[tuple[int, RunHandle]] = deque()
        self._lock = threading.Lock()  # guards the slots, the queue and the start state
        self._starting = threading.Lock()  # held while workers start (outside _lock: a start takes a while)
        self._start_error = ""  # why the last start failed; "" once one succeeds
        self._retry_at = 0.0  # time.monotonic() from which the workers that are down are started again
        self._backoff = RETRY_AFTER[0]
        self._tokens = count(1)
        self._requeued: set[int] = set()  # tokens of the runs given again after their worker died before taking them
        self._collector: threading.Thread | None = None
        self._closed = False

    def submit(self, request: TrainRequest) -> RunHandle:
        """Queue a run; it starts at once if a worker is free. If no worker can start, the handle fails soon after
        with the reason (from the reader thread: a submitter may hold locks that the run's callbacks take)."""
        if self._closed:
            raise ValueError("this executor has been shut down")
        if not request.threads:
            request = dataclasses.replace(request, threads=self.threads)
        handle = RunHandle(request, self._stop)
        with self._lock:
            self._pending.append((next(self._tokens), handle))
            self._renumber()
            self._retry_at = 0.0  # a worker that is down is tried again now, whatever the pause
            if self._collector is None:
                self._collector = threading.Thread(target=self._collect, daemon=True, name="cnn-lab-executor")
                self._collector.start()
        with self._starting:
            self._revive()
        return handle

    def warm(self) -> None:
        """Start the workers that are down now, before any run: each imports torch while it waits, so that the first
        run starts at once (otherwise a worker's start, 2-2.5 s, is part of it). Safe from any thread."""
        if not self._closed:
            with self._starting:
                self._revive()

    def queue_length(self) -> int:
        with self._lock:
            return len(self._pending)

    def worker_pids(self) -> list[int]:
        """The process ids of the workers that are up."""
        with self._lock:
            return [slot.process.pid for slot in self._slots if slot is not None]

    def shutdown(self) -> None:
        """Stop every run, end the worker processes and the collector thread."""
        with self._lock:
            self._closed = True
            pending = [handle for _, handle in self._pending]
            self._pending.clear()
            slots, self._slots = [s for s in self._slots if s is not None], [None] * self.max_runs
        for handle in pending:
            handle._finish(error="the executor shut down before the run started")
        for slot in slots:
            slot.end()
            if slot.handle is not None:
                slot.handle._finish(error="the executor shut down during the run")
        if self._collector is not None and self._collector is not threading.current_thread():
            self._collector.join(timeout=5)

    def _stop(self, handle: RunHandle) -> None:
        with self._lock:
            queued = next((item for item in self._pending if item[1] is handle), None)
            if queued is not None:
                self._pending.remove(queued)
                self._renumber()
            for slot in self._slots:
                if slot is not None and slot.handle is handle:
                    with contextlib.suppress(OSError):  # a dead worker: its run fails anyway
                        slot.conn.send(("stop", slot.token))
        if queued is not None:  # outside the lock: the run's callbacks may take the submitter's locks
            handle._finish(error="stopped before it started")

    def _renumber(self) -> None:
        for i, (_, handle) in enumerate(self._pending, 1):
            handle.position = i

    def _dispatch(self) -> None:
        """Give waiting runs to idle workers that live (the lock is held; a dead one is the reader's to replace)."""
        for slot in self._slots:
            if slot is None or slot.handle is not None or not self._pending or not slot.alive():
                continue
            token, handle = self._pending.popleft()
            try:
                slot.conn.send((token, handle.request))
            except OSError:  # it died just now: the run waits for the next worker
                logger.warning("a training worker (pid %s) died before taking a run", slot.process.pid)
                self._pending.appendleft((token, handle))
                continue
            slot.handle, slot.token, slot.begun = handle, token, False
            handle._begin()
        self._renumber()

    def _revive(self) -> None:
        """Start the workers that are down, if due, and hand out waiting runs (`_starting` is held)."""
        with self._lock:
            due = not self._closed and time.monotonic() >= self._retry_at
            down = [i for i, slot in enumerate(self._slots) if slot is None] if due else []
        started, error, leftovers = {}, "", []
        for i in down:
            try:
                started[i] = WorkerProcess(self.nice)
            except Exception as exc:  # noqa: BLE001 - any failure to start: logged, its runs told, tried again
                error = describe_error(exc)
                logger.exception("a training worker could not start (tried again in %.0f s)", self._backoff)
                break
        with self._lock:
            if self._closed:
                leftovers, started = list(started.values()), {}
            for i, slot in started.items():
                self._slots[i] = slot
            if error:
                self._start_error, self._retry_at = error, time.monotonic() + self._backoff
                self._backoff = min(2 * self._backoff, RETRY_AFTER[1])
            elif started:
                self._start_error, self._backoff = "", RETRY_AFTER[0]
            self._dispatch()
        for slot in leftovers:
            slot.end()

    def _stranded(self) -> tuple[list[RunHandle], str]:
        """The waiting runs, taken from the queue, if no worker lives and the last start failed; and why."""
        with self._lock:
            if not self._start_error or any(self._slots):
                return [], ""
            stranded = [handle for _, handle in self._pending]
            self._pending.clear()
            return stranded, self._start_error

    def _collect(self) -> None:
        """The one thread that reads the workers: routes events, finishes handles, replaces dead workers. Nothing
        ends it but shutdown: an error is logged and the run it concerns failed."""
        while not self._closed:
            try:
                self._turn()
            except Exception:  # noqa: BLE001 - logged; the thread must live on for every other run
                logger.exception("the training executor's reader thread hit an error; it goes on")
                time.sleep(POLL_EVERY)

    def _turn(self) -> None:
        with self._starting:
            self._revive()
        stranded, why = self._stranded()
        for handle in stranded:
            handle._finish(error=f"the training worker could not start: {why}; try again in a moment")
        with self._lock:
            live = [slot for slot in self._slots if slot is not None]
        if not live:
            time.sleep(POLL_EVERY)
            return
        ready = wait([slot.conn for slot in live], timeout=POLL_EVERY)  # a worker that dies closes its end: EOF
        ready += [slot.conn for slot in live if not slot.alive()]  # …unless a child of its holds it open
        for slot in live:
            if slot.conn in ready:
                try:
                    self._read(slot)
                except Exception as exc:  # noqa: BLE001 - a message we could not handle: this worker's run is lost
                    logger.exception("the training executor could not read worker %s", slot.process.pid)
                    slot.process.kill()
                    self._replace(slot, f"the executor lost this run ({describe_error(exc)}); train it again")

    def _held(self, slot: WorkerProcess) -> tuple[RunHandle | None, int]:
        with self._lock:
            return slot.handle, slot.token

    def _read(self, slot: WorkerProcess) -> None:
        handle, token = self._held(slot)
        events, outcome, gone = [], None, False
        try:
            while outcome is None and slot.conn.poll():
                sent, kind, payload = slot.conn.recv()
                if handle is None:  # idle when this read began: a run may have been given to it since
                    handle, token = self._held(slot)
                if handle is None or sent != token:  # late news of a run that has ended
                    continue
                slot.begun = True
                if kind == "begun":
                    continue
                if kind == "event":
                    events.append(payload)
                else:
                    outcome = (kind, payload)
        except (EOFError, OSError):
            gone = True
        gone = gone or (outcome is None and not slot.alive() and not slot.conn.poll())
        if handle is not None:
            handle._push(events)
        if gone:
            self._replace(slot, "")
            return
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
            if not self._closed:
                self._dispatch()
        handle._finish(run, error)

    def _replace(self, slot: WorkerProcess, error: str) -> None:
        """A worker died (or was ended): its slot starts again on the next turn; its run, if any, fails."""
        code = slot.reap()
        with self._lock:
            if slot in self._slots:
                self._slots[self._slots.index(slot)] = None
                if not self._start_error:
                    self._retry_at = 0.0
            handle, slot.handle = slot.handle, None
            # a run given to a worker as it died, that it never took, waits for the next one (once)
            closing = self._closed  # ended by shutdown (or as it began): nothing starts again
            again = handle is not None and not slot.begun and not closing and slot.token not in self._requeued
            if again:
                self._requeued.add(slot.token)
                self._pending.appendleft((slot.token, handle))
                handle.state = "queued"
                self._renumber()
        with contextlib.suppress(OSError):
            slot.conn.close()
        if closing:
            logger.info("training worker %s ended (%s) as the executor shut down", slot.process.pid, exit_text(code))
        else:
            logger.warning("training worker %s ended (%s) %s; starting another", slot.process.pid, exit_text(code),
                           "while idle" if handle is None else "as it was given a run (it waits for the next worker)"
                           if again else "during a run")  # fmt: skip
        if handle is not None and not again:
            handle._finish(error=error or f"the worker process died ({exit_text(code)}); the run is lost: "
                                          "train it again")  # fmt: skip
