"""The model cache: finished runs by configuration key and by run id, in memory and in the run registry on disk.

The folder is `$CNN_LAB_CACHE_DIR`, or ~/.cache/cnn-lab (see `cnn_core.runs.registry` for what it holds). Every
finished run is registered; only completed and early-stopped runs are found by their key, because a stopped
or diverged run is not what its configuration gives. Memory keeps the most recently used runs.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from cnn_core.runs.registry import CACHEABLE, MAX_WARNINGS, RunRegistry
from cnn_core.settings import default_dir

logger = logging.getLogger(__name__)


def _copy(run):
    """A run another session can't change: fresh history and summary (the tensors are never written)."""
    return dataclasses.replace(run, history=[dict(h) for h in run.history], summary=dict(run.summary))


class ModelCache:
    """Thread-safe store of finished runs; `warnings` lists what could not be read or written."""

    def __init__(self, folder: str | Path | None = None, capacity: int = 16, max_runs: int | None = None):
        self.folder = Path(folder) if folder is not None else default_dir()
        self.capacity = capacity  # runs kept in memory
        self.registry = RunRegistry(self.folder, max_runs)
        self._memory: OrderedDict[str, Any] = OrderedDict()  # run id → run, least recently used first
        self._by_key: dict[str, str] = {}  # configuration key → run id of a cacheable run in memory
        self._lock = threading.Lock()
        self._own_warnings: deque[str] = deque(maxlen=MAX_WARNINGS)

    @property
    def warnings(self) -> list[str]:
        """The newest things that could not be read or written (every one is logged as well)."""
        with self._lock:
            own = list(self._own_warnings)
        return [*own, *self.registry.warnings]

    def get(self, key: str):
        """The completed or early-stopped run of a configuration key, or None; from memory, else from disk."""
        with self._lock:
            run_id = self._by_key.get(key)
            if run_id in self._memory:
                self._memory.move_to_end(run_id)
                return _copy(self._memory[run_id])
        run = self._disk(lambda: self.registry.find(key))
        if run is None:
            return None
        self._remember(run)
        return _copy(run)

    def get_run(self, run_id: str):
        """The run with this id (any status), or None."""
        with self._lock:
            if run_id in self._memory:
                self._memory.move_to_end(run_id)
                return _copy(self._memory[run_id])
        run = self._disk(lambda: self.registry.load(run_id))
        if run is None:
            return None
        self._remember(run)
        return _copy(run)

    def put(self, run, who: str = "") -> str | None:
        """Keep a finished run in memory and register it on disk; None, or why it could not be kept on disk (a
        full or read-only disk…: logged and in `warnings`, for the caller to show to whoever can act on it).
        The run stays in memory either way, so this server still finds it."""
        self._remember(run)
        try:
            self.registry.put(run, who)
        except (OSError, sqlite3.Error) as exc:
            problem = (f"the run {run.run_id[:8]} could not be saved in {self.folder} "
                       f"({getattr(exc, 'strerror', None) or exc}): it is kept in memory only, until the server "
                       "restarts; free some disk space or set $CNN_LAB_CACHE_DIR to a writable folder")  # fmt: skip
            self._warn(problem, exc)
            return problem
        return None

    def record_score(self, run_id: str, split: str, accuracy: float) -> None:
        """Keep a run's held-out accuracy in the registry (a disk that can't be written only warns)."""
        try:
            self.registry.record_score(run_id, split, accuracy)
        except (OSError, sqlite3.Error) as exc:
            self._warn(f"could not store the score of the run {run_id[:8]} in {self.folder}: {exc}", exc)

    def forget(self, run_ids: list[str]) -> int:
        """Remove runs from memory and from the registry (the class board's clear); how many were registered."""
        with self._lock:
            for run_id in run_ids:
                run = self._memory.pop(run_id, None)
                if run is not None and self._by_key.get(run.key) == run_id:
                    del self._by_key[run.key]
        try:
            return self.registry.remove(run_ids)
        except (OSError, sqlite3.Error) as exc:
            problem = f"could not remove runs from {self.folder}: {getattr(exc, 'strerror', None) or exc}"
            self._warn(problem, exc)
            raise OSError(problem) from None

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        """One dict per run on disk (run_id, key, status, dataset, params, val_acc, …), newest first."""
        return self._disk(lambda: self.registry.listing(limit)) or []

    def _disk(self, read):
        """A registry read; a folder that can't be opened (not a folder, no permission) only warns."""
        try:
            return read()
        except (OSError, sqlite3.Error) as exc:
            self._warn(f"could not read the model cache in {self.folder}: {exc}", exc)
            return None

    def _remember(self, run) -> None:
        with self._lock:
            self._memory[run.run_id] = run
            self._memory.move_to_end(run.run_id)
            if run.summary.get("status", "completed") in CACHEABLE:
                self._by_key[run.key] = run.run_id
            while len(self._memory) > self.capacity:
                gone_id, gone = self._memory.popitem(last=False)
                if self._by_key.get(gone.key) == gone_id:
                    del self._by_key[gone.key]

    def _warn(self, message: str, exc: BaseException | None = None) -> None:
        logger.error("model cache: %s", message, exc_info=exc)
        with self._lock:
            self._own_warnings.append(message)
