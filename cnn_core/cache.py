"""The model cache: finished runs by key, in memory (bounded, least recently used out) and on disk.

The folder is `$CNN_LAB_CACHE_DIR`, or ~/.cache/cnn-lab. Each run is `<key>.pt` (the checkpoint, read
with weights_only=True) beside `<key>.json` (a small summary for listings). A file that can't be read
or doesn't fit is ignored, deleted and reported in `warnings`: the run is simply trained again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

ENV_VAR = "CNN_LAB_CACHE_DIR"
ENGINE_VERSION = 2  # part of every key: bump it when training changes, so old results aren't reused


def default_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "cnn-lab")


def run_key(data_config, spec, train_config) -> str:
    """Hash of the dataset config, the model spec and the training config (which holds the seed)."""
    parts = [ENGINE_VERSION, data_config.to_dict(), spec.to_dict(), train_config.to_dict()]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _copy(run):
    """A run another session can't change: fresh history and summary (the tensors are never written)."""
    return dataclasses.replace(run, history=[dict(h) for h in run.history], summary=dict(run.summary))


class ModelCache:
    """Thread-safe store of TrainedRun by key; `warnings` lists the files it had to discard."""

    def __init__(self, folder: str | Path | None = None, capacity: int = 16):
        self.folder = Path(folder) if folder is not None else default_dir()
        self.capacity = capacity  # runs kept in memory
        self.warnings: list[str] = []
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str):
        """The cached run for a key, or None; from memory, else from disk."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return _copy(self._memory[key])
        path = self.folder / f"{key}.pt"
        if not path.exists():
            return None
        from cnn_core.checkpoint import load_checkpoint

        try:
            run = load_checkpoint(path)
            if run.key != key:
                raise ValueError(f"it holds the run {run.key!r}, not {key!r}")
        except ValueError as exc:
            self._discard(key, f"ignored the cached model {path.name}: {exc}; it will be trained again")
            return None
        self._remember(run)
        return _copy(run)

    def put(self, run) -> None:
        """Keep a finished run in memory and on disk (a disk that can't be written only warns)."""
        from cnn_core.checkpoint import save_checkpoint

        self._remember(run)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            save_checkpoint(run, self.folder / f"{run.key}.pt")
            (self.folder / f"{run.key}.json").write_text(json.dumps(_listing_entry(run)))
        except OSError as exc:
            self._warn(f"could not write the model cache in {self.folder}: {exc.strerror or exc}")

    def listing(self) -> list[dict[str, Any]]:
        """One dict per run on disk (key, dataset, params, val_acc, …), newest first."""
        entries = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                entry = json.loads(path.read_text())
                if not isinstance(entry, dict) or entry.get("key") != path.stem:
                    raise ValueError("not a cache entry")
            except (OSError, ValueError):
                self._discard(path.stem, f"ignored the unreadable cache entry {path.name}")
                continue
            if (self.folder / f"{path.stem}.pt").exists():
                entries.append(entry)
        return sorted(entries, key=lambda e: e.get("saved", 0), reverse=True)

    def _remember(self, run) -> None:
        with self._lock:
            self._memory[run.key] = run
            self._memory.move_to_end(run.key)
            while len(self._memory) > self.capacity:
                self._memory.popitem(last=False)

    def _discard(self, key: str, message: str) -> None:
        for suffix in (".pt", ".json"):
            try:
                (self.folder / f"{key}{suffix}").unlink(missing_ok=True)
            except OSError:
                pass
        self._warn(message)

    def _warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)


def _listing_entry(run) -> dict[str, Any]:
    s = run.summary
    return {
        "key": run.key, "saved": time.time(), "dataset": run.data_config.dataset,
        "input": list(run.spec.input), "num_classes": run.spec.num_classes, "layers": len(run.spec.layers),
        "params": s.get("params"), "val_acc": s.get("val_acc"), "val_loss": s.get("val_loss"),
        "epochs_run": s.get("epochs_run"), "train_seconds": s.get("train_seconds"), "device": s.get("device"),
        "status": s.get("status"), "train_config": run.train_config,
    }  # fmt: skip
