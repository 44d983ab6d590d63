"""Training jobs of every session on this server: the server only submits, polls and draws.

Each run trains on the executor (`cnn_core.runs.launch`: worker processes, or a Ray cluster), never in this
process. One `TrainingManager` per server (`shared_manager()`): a configuration key already training is
joined rather than trained twice, a key in the model cache comes back at once, and every job knows which
sessions wait for it. A session's share is released when its tab closes (a session-scoped resource's
`on_release`); a run that nobody waits for any more is stopped after a grace period.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from cnn_core.data import image_store
from cnn_core.runs.launch import make_executor
from cnn_core.runs.model_cache import ModelCache
from cnn_core.runs.request import RunHandle, TrainRequest
from cnn_core.runs.resources import server_plan, warm_workers
from cnn_core.training.run import run_key

logger = logging.getLogger(__name__)

WHO = "who"  # session key: this session's anonymous label, stored with its runs in the registry
ORPHAN_GRACE = 30.0  # seconds a run without sessions goes on (a reconnecting tab takes its share back)
LIVE_REDRAWS = 5  # live views the server redraws a second, all sessions together (about 15 ms each)
LIVE_STEPS = (1.0, 2.0, 5.0)  # the seconds one live view may wait between two redraws


def live_interval(watchers: int) -> float:
    """Seconds between two redraws of one session's live Training view: once a second while few watch, less
    often as a class gathers, so that the server redraws about LIVE_REDRAWS views a second however many watch
    (a few steps, not a smooth curve: a change of pace redraws the whole page once)."""
    wanted = watchers / LIVE_REDRAWS
    return next((step for step in LIVE_STEPS if step >= wanted), LIVE_STEPS[-1])


def _private(run):
    """A copy of a run that one session may annotate (the weights are shared, never written)."""
    return dataclasses.replace(run, history=[dict(h) for h in run.history], summary=dict(run.summary))


@dataclass(eq=False)
class Job:
    """One configuration being trained (or found in the cache), shared by the sessions that asked for it."""

    key: str
    config: Any  # the TrainConfig
    handle: RunHandle | None = None  # None when the run came from the cache
    owners: set[str] = field(default_factory=set)  # labels of the sessions waiting for it
    cached_run: Any = None  # the run from the cache
    history: list[dict[str, float]] = field(default_factory=list)
    batch: tuple[int, int] = (0, 0)  # batches done in the current epoch, batches per epoch
    store_problem: str = ""  # why the finished run could not be kept on disk ("" when it was)
    settled: bool = False  # the finished run is registered (or its problem known): pages may collect it
    lease: Any = None  # the image store's lease on the learner's images while queued or running (folder datasets)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cached(self) -> bool:
        return self.handle is None

    @property
    def state(self) -> str:
        """queued → running → done | failed (done once the run is registered, so its page hears how that went)."""
        if self.handle is None:
            return "done"
        state = self.handle.state
        return "running" if state == "done" and not self.settled else state

    @property
    def error(self) -> str:
        return "" if self.handle is None else self.handle.error()

    @property
    def stopping(self) -> bool:
        return self.handle is not None and self.handle.stop_requested

    def result(self):
        """The finished run, as this session's own copy."""
        run = self.cached_run if self.handle is None else self.handle.result(timeout=0)
        return _private(run)

    def snapshot(self) -> dict[str, Any]:
        """Where the run stands, for the page to draw: a poll of the handle, no waiting."""
        with self._lock:
            for event in self.handle.poll() if self.handle is not None else ():
                if event["kind"] == "batch":
                    self.batch = (event["done"], event["total"])
                else:
                    self.history.append({k: v for k, v in event.items() if k != "kind"})
                    self.batch = (0, self.batch[1])
            history, (done_batches, per_epoch) = list(self.history), self.batch
        state, total = self.state, self.config.epochs
        started = self.handle.started if self.handle is not None else 0.0
        epochs_done = len(history) + (done_batches / per_epoch if per_epoch else 0)
        elapsed = time.monotonic() - started if started else 0.0
        eta = eta_seconds(history, epochs_done, total) if state == "running" else None
        position = self.handle.position if self.handle is not None else 0
        fraction = 1.0 if state == "done" else min(epochs_done / total, 1.0)
        return dict(state=state, history=history, fraction=fraction, eta=eta, elapsed=elapsed, position=position,
                    error=self.error, cached=self.cached, stopping=self.stopping)  # fmt: skip


TIMED_EPOCHS = 2  # epochs timed before an ETA is given


def eta_seconds(history: list[dict], epochs_done: float, total: int) -> float | None:
    """The time left, from the epochs' own durations (`seconds` in each record) after the first, which also pays
    for warming up; None until TIMED_EPOCHS epochs are timed. (Time since the start, divided by the fraction done,
    counted the worker's start-up too: 4 min 35 s was the first guess for a 60 s run.)"""
    timed = [h["seconds"] for h in history[1:] if h.get("seconds") is not None]
    if len(history) < TIMED_EPOCHS or not timed:
        return None
    return sum(timed) / len(timed) * max(total - epochs_done, 0.0)


class TrainingManager:
    """Submits runs to an executor, shares them by key, registers them in the cache when they end."""

    def __init__(self, cache: ModelCache, executor):
        self.cache = cache
        self.executor = executor
        self._active: dict[str, Job] = {}  # key → job queued or training
        self._lock = threading.Lock()

    def submit(self, spec, dataset, config, device: str = "auto", who: str = "", name: str = "") -> Job:
        """This session's job for a training: joined if the key is under way, done at once if cached. `who` is the
        session's unique label (it owns the job); `name`, the class board's name for the run (default: `who`)."""
        key = run_key(dataset.config, spec, config, device)
        with self._lock:  # lookup, cache and submit under one lock: one key never starts two runs
            job = self._active.get(key)
            if job is not None and not job.stopping:
                job.owners.add(who)
                return job
            cached = self.cache.get(key)
            if cached is not None:
                return Job(key, config, owners={who}, cached_run=cached, history=list(cached.history))
            request = TrainRequest(dataset.config, spec, config, device, who=name or who)
            lease = _hold_images(dataset.config)
            try:
                handle = self.executor.submit(request)
            except BaseException as exc:
                if lease is not None:
                    image_store.release(lease)
                if isinstance(exc, ValueError):  # refused (no node of the Ray cluster is big enough…): the page says why
                    logger.warning("training %s refused: %s", key, exc)
                    return Job(key, config, RunHandle.refused(request, str(exc)), owners={who})
                raise
            job = self._active[key] = Job(key, config, handle, owners={who}, lease=lease)
        handle.add_done_callback(lambda h: self._finished(job))
        return job

    def running(self, key: str) -> Job | None:
        """The job training (or queued for) a configuration key, unless it is being stopped; None when there is none."""
        with self._lock:
            job = self._active.get(key)
            return job if job is not None and not job.stopping else None

    def join(self, job: Job, who: str) -> None:
        """Count this session in again (after a reconnect, its share was released)."""
        with self._lock:
            if self._active.get(job.key) is job:
                job.owners.add(who)

    def stop(self, job: Job, who: str) -> bool:
        """Stop for this session; True if the run stops (False: other sessions still wait for it)."""
        with self._lock:
            job.owners.discard(who)
            if job.owners or job.handle is None:
                return job.handle is None
        job.handle.stop()
        return True

    def release(self, who: str) -> None:
        """A session ended: it leaves every job; a job nobody waits for stops after ORPHAN_GRACE seconds."""
        with self._lock:
            orphans = []
            for job in self._active.values():
                if who in job.owners:
                    job.owners.discard(who)
                    if not job.owners:
                        orphans.append(job)
        for job in orphans:
            timer = threading.Timer(ORPHAN_GRACE, self._stop_if_orphaned, [job])
            timer.daemon = True
            timer.start()

    def watchers(self) -> int:
        """Sessions waiting for a run of this server (each has a live view of it on its Training page)."""
        with self._lock:
            return sum(len(job.owners) for job in self._active.values())

    def queue_length(self) -> int:
        with self._lock:
            return sum(job.state == "queued" for job in self._active.values())

    def shutdown(self) -> None:
        self.executor.shutdown()

    def _stop_if_orphaned(self, job: Job) -> None:
        with self._lock:
            orphaned = not job.owners and self._active.get(job.key) is job
        if orphaned:
            job.handle.stop()

    def _finished(self, job: Job) -> None:
        """Register the finished run (every status; only completed and early-stopped ones are found by key)."""
        with self._lock:
            if self._active.get(job.key) is job:
                del self._active[job.key]
        try:
            if job.handle.state == "done":
                job.store_problem = self.cache.put(job.handle.result(timeout=0), who=job.handle.request.who) or ""
        except Exception as exc:  # never lost without a word: logged here, shown on the page that trained it
            logger.exception("registering the run of key %s failed", job.key)
            job.store_problem = f"the finished run could not be registered ({type(exc).__name__}: {exc})"
        finally:
            job.settled = True
            if job.lease is not None:
                image_store.release(job.lease)


def _hold_images(data_config):
    """A lease that keeps a folder dataset's images from eviction until its run ends (None: none needed, or the
    store can't be written now; the run still trains, its images only lose their protection, which is logged)."""
    if data_config.dataset != "folder":
        return None
    try:
        return image_store.hold(data_config.digest)
    except ValueError:  # StoreUnavailable, logged by the store
        return None


@st.cache_resource(show_spinner=False)
def shared_cache() -> ModelCache:
    """The server's model cache and run registry, shared by every session."""
    return ModelCache()


@st.cache_resource(show_spinner=False, on_release=TrainingManager.shutdown)
def shared_manager() -> TrainingManager:
    """The server-wide manager on the executor that $CNN_LAB_RAY_ADDRESS chooses (ValueError if unreachable),
    sized by the server's plan: its workers run below the web server's CPU priority (cnn_core.runs.resources.plan),
    and start at once, in the background, unless $CNN_LAB_WARM_WORKERS is "0": the first Train then finds them ready."""
    plan = server_plan()
    manager = TrainingManager(shared_cache(), make_executor(plan.max_runs, plan.threads_per_run, plan.worker_nice))
    if warm_workers():
        threading.Thread(target=manager.executor.warm, daemon=True, name="cnn-lab-warm-workers").start()
    return manager


@dataclass(frozen=True)
class _Ticket:
    label: str
    manager: TrainingManager


@st.cache_resource(scope="session", show_spinner=False, on_release=lambda t: t.manager.release(t.label))
def _session_ticket(label: str) -> _Ticket:
    return _Ticket(label, shared_manager())


def session_label() -> str:
    """This session's anonymous label; its jobs are released when the tab closes."""
    label = st.session_state.setdefault(WHO, f"anon-{uuid.uuid4().hex[:8]}")
    _session_ticket(label)
    return label
