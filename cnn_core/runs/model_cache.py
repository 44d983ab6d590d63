"""The model cache: finished runs by configuration key and by run id, in memory and in the run registry on disk.

The folder is `$CNN_LAB_CACHE_DIR`, or ~/.cache/cnn-lab (see `cnn_core.runs.registry` for what it holds). Every
finished run is registered; only completed and early-stopped runs are found by their key, because a stopped
or diverged run is not what its configuration gives. Memory keeps the most recently used runs.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cnn_core.runs.registry import CACHEABLE, RunRegistry
from cnn_core.settings import default_dir


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
        self._own_warnings: list[str] = []

    @property
    def warnings(self) -> list[str]:
        return [*self._own_warnings, *self.registry.warnings]

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

    def put(self, run, who: str = "") -> None:
        """Keep a finished run in memory and register it on disk (a disk that can't be written only warns)."""
        self._remember(run)
        try:
            self.registry.put(run, who)
        except OSError as exc:
            self._warn(f"could not write the model cache in {self.folder}: {exc.strerror or exc}")

    def forget(self, run_ids: list[str]) -> int:
        """Remove runs from memory and from the registry (the class board's clear); how many were registered."""
        with self._lock:
            for run_id in run_ids:
                run = self._memory.pop(run_id, None)
                if run is not None and self._by_key.get(run.key) == run_id:
                    del self._by_key[run.key]
        return self.registry.remove(run_ids)

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        """One dict per run on disk (run_id, key, status, dataset, params, val_acc, …), newest first."""
        return self._disk(lambda: self.registry.listing(limit)) or []

    def _disk(self, read):
        """A registry read; a folder that can't be opened (not a folder, no permission) only warns."""
        try:
            return read()
        except (OSError, sqlite3.Error) as exc:
            self._warn(f"could not read the model cache in {self.folder}: {exc}")
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

    def _warn(self, message: str) -> None:
        with self._lock:
            self._own_warnings.append(message)
