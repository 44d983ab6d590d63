"""The run registry: every finished run's facts in SQLite (WAL mode), its weights in a checkpoint file beside it.

The folder holds `runs.sqlite3` and `checkpoints/<run_id>.pt`. A checkpoint is written to a temporary file of
its own and renamed into place before its row is inserted, so a row always names a complete file and readers
in other processes (listings are queries) never see half a run. A file that is missing or can't be read is
reported in `warnings` and skipped, never deleted: only evicted runs (the folder keeps the newest `max_runs`
and at most `max_bytes` of checkpoints) and stale temporary files (definitely not checkpoints) are removed.

About 270 lines: the schema, the atomic write, eviction and reporting are one table's life cycle.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

DB_NAME = "runs.sqlite3"
FILES = "checkpoints"
# Runs that are what their configuration gives, so found by key ("unstable": completed, with a warning that it
# barely learned: the same configuration would give the same again). Stopped and diverged runs are not.
CACHEABLE = ("completed", "early stopping", "unstable")
MAX_RUNS_VAR = "CNN_LAB_CACHE_MAX_RUNS"  # environment variable: runs kept on disk (default 500)
DEFAULT_MAX_RUNS = 500
STALE_TMP_SECONDS = 3600  # a temporary file this old belongs to a writer that died
RUN_ID = re.compile(r"^[0-9a-f]{8,64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,      -- names one set of weights (TrainedRun.run_id)
    key TEXT NOT NULL,            -- the configuration key: data config, spec, train config and seed
    status TEXT NOT NULL,         -- completed, early stopping, unstable, stopped or diverged
    saved REAL NOT NULL,          -- time.time() when registered
    dataset TEXT, val_acc REAL, val_loss REAL, epochs_run INTEGER, params INTEGER, train_seconds REAL,
    device TEXT,
    who TEXT NOT NULL DEFAULT '', -- an anonymous session label
    layers INTEGER, input TEXT, num_classes INTEGER,
    data_config TEXT NOT NULL, spec TEXT NOT NULL, train_config TEXT NOT NULL, summary TEXT NOT NULL,
    bytes INTEGER NOT NULL,       -- size of the checkpoint file
    problem TEXT                  -- why its file can't be used (missing, damaged); NULL when fine
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (key, saved);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (saved);
"""
COLUMNS = ("run_id", "key", "status", "saved", "dataset", "val_acc", "val_loss", "epochs_run", "params",
           "train_seconds", "device", "who", "layers", "input", "num_classes", "data_config", "spec",
           "train_config", "summary", "bytes")  # fmt: skip
LISTED = ("run_id", "key", "status", "saved", "dataset", "val_acc", "val_loss", "epochs_run", "params",
          "train_seconds", "device", "who", "layers", "input", "num_classes", "data_config", "train_config")  # fmt: skip


def default_max_runs() -> int:
    value = os.environ.get(MAX_RUNS_VAR, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_RUNS


class RunRegistry:
    """Finished runs on disk, safe to use from many threads and processes at once."""

    def __init__(self, folder: str | Path, max_runs: int | None = None, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.max_runs = max_runs or default_max_runs()
        self.max_bytes = max_bytes  # None: no size bound
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._ready = False

    # ---------------------------------------------------------------- writing

    def put(self, run, who: str = "") -> None:
        """Register a finished run (any status) and write its checkpoint; OSError if the folder can't be written."""
        from cnn_core.runs.checkpoint import save_checkpoint

        if not RUN_ID.match(run.run_id):
            raise ValueError(f"a run id is lowercase hex, got {run.run_id!r}")
        path = self._path(run.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(run, path)  # complete on disk before any reader can find its row
        row = _row(run, who, path.stat().st_size)
        with self._connect() as db:
            db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       [row[c] for c in COLUMNS])  # fmt: skip
        self._evict()

    def _evict(self) -> None:
        """Oldest runs out beyond the count and size bounds; stale temporary files out."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one evicter at a time, across processes
            rows = db.execute("SELECT run_id, bytes FROM runs ORDER BY saved DESC, rowid DESC").fetchall()
            total, doomed = 0, []
            for i, (run_id, size) in enumerate(rows):
                total += size
                if i >= self.max_runs or (self.max_bytes is not None and total > self.max_bytes and i > 0):
                    doomed.append(run_id)
            db.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in doomed])
        for run_id in doomed:  # rows first: a reader never finds a row whose file was evicted on purpose
            self._path(run_id).unlink(missing_ok=True)
        from cnn_core.runs.checkpoint import TMP_SUFFIX

        now = time.time()
        for tmp in self.folder.joinpath(FILES).glob(f".*{TMP_SUFFIX}"):
            try:
                if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                    tmp.unlink()
            except OSError:
                pass

    def remove(self, run_ids: list[str]) -> int:
        """Unregister these runs and delete their checkpoints (the class board's clear); how many were registered."""
        ids = [r for r in run_ids if RUN_ID.match(r)]
        if not ids or not self._exists():
            return 0
        with self._connect() as db:
            gone = db.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in ids]).rowcount
        for run_id in ids:  # rows first, as in eviction: a reader never finds a row without its file
            self._path(run_id).unlink(missing_ok=True)
        return gone

    # ---------------------------------------------------------------- reading

    def find(self, key: str):
        """The newest completed or early-stopped run of a configuration key whose file loads, or None."""
        if not self._exists():
            return None
        with self._connect() as db:
            ids = [r[0] for r in db.execute(
                f"SELECT run_id FROM runs WHERE key = ? AND status IN ({', '.join('?' * len(CACHEABLE))}) "
                "AND problem IS NULL ORDER BY saved DESC, rowid DESC", (key, *CACHEABLE))]  # fmt: skip
        for run_id in ids:
            run = self.load(run_id)
            if run is not None and run.key == key:
                return run
        return None

    def load(self, run_id: str):
        """The run with this id, or None (reported in `warnings`) if it isn't registered or can't be read."""
        from cnn_core.runs.checkpoint import load_checkpoint

        if not RUN_ID.match(run_id) or not self._exists():
            return None
        path = self._path(run_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._mark(run_id, f"the checkpoint {path.name} is missing")
            return None
        except (OSError, MemoryError) as exc:  # the machine's trouble (too many open files…): try again later
            self._warn(f"could not read the checkpoint {path.name} now: {getattr(exc, 'strerror', None) or exc!r}")
            return None
        try:
            run = load_checkpoint(data)
            if run.run_id != run_id:
                raise ValueError(f"it holds the run {run.run_id}")
        except ValueError as exc:
            self._mark(run_id, f"the checkpoint {path.name} is damaged: {exc}")
            return None
        except MemoryError:
            self._warn(f"not enough memory to load the checkpoint {path.name} now")
            return None
        return run

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest registered runs whose files are there, as plain dicts (a query; files aren't opened)."""
        if not self._exists():
            return []
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(LISTED)} FROM runs WHERE problem IS NULL "
                              "ORDER BY saved DESC, rowid DESC LIMIT ?", (limit,)).fetchall()  # fmt: skip
        entries = []
        for values in rows:
            entry = dict(zip(LISTED, values))
            if not self._path(entry["run_id"]).exists():
                self._mark(entry["run_id"], f"the checkpoint {entry['run_id']}.pt is missing")
                continue
            for name in ("input", "data_config", "train_config"):
                entry[name] = json.loads(entry[name])
            entries.append(entry)
        return entries

    def problems(self) -> list[tuple[str, str]]:
        """(run id, why) of every registered run whose file can't be used."""
        if not self._exists():
            return []
        with self._connect() as db:
            return db.execute("SELECT run_id, problem FROM runs WHERE problem IS NOT NULL ORDER BY saved").fetchall()

    # ---------------------------------------------------------------- plumbing

    def _path(self, run_id: str) -> Path:
        return self.folder / FILES / f"{run_id}.pt"

    def _exists(self) -> bool:
        return self._ready or (self.folder / DB_NAME).exists()

    def _connect(self) -> closing[sqlite3.Connection]:
        """A connection of this call's own (safe across threads), in autocommit mode, waiting out other writers."""
        if not self._ready:
            self.folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.folder / DB_NAME, timeout=30, isolation_level=None)
        if not self._ready:
            _set_up(db)
            self._ready = True
        return _Connection(db)

    def _mark(self, run_id: str, problem: str) -> None:
        """Remember why a run's file can't be used (it is skipped from then on) and report it; the file stays.

        A run evicted meanwhile by another process has no row any more: nothing to report then."""
        with self._connect() as db:
            marked = db.execute("UPDATE runs SET problem = ? WHERE run_id = ?", (problem, run_id)).rowcount
        if marked:
            self._warn(problem)

    def _warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)


class _Connection(closing):
    """`with` gives the connection and closes it after: the block runs in autocommit, or in its own BEGIN."""

    def __enter__(self) -> sqlite3.Connection:
        return self.thing

    def __exit__(self, exc_type, *rest) -> None:
        db = self.thing
        if db.in_transaction:
            db.execute("ROLLBACK" if exc_type else "COMMIT")
        db.close()


def _set_up(db: sqlite3.Connection, tries: int = 100) -> None:
    """WAL mode and the table. Switching the journal mode ignores the busy timeout, so two processes
    creating the database at once retry."""
    for attempt in range(tries):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)


def _row(run, who: str, size: int) -> dict[str, Any]:
    s = run.summary
    return {
        "run_id": run.run_id, "key": run.key, "status": s.get("status", "completed"), "saved": time.time(),
        "dataset": run.data_config.dataset, "val_acc": s.get("val_acc"), "val_loss": _finite(s.get("val_loss")),
        "epochs_run": s.get("epochs_run"), "params": s.get("params"), "train_seconds": s.get("train_seconds"),
        "device": s.get("device"), "who": who, "layers": len(run.spec.layers), "input": json.dumps(list(run.spec.input)),
        "num_classes": run.spec.num_classes, "data_config": run.data_config.to_json(), "spec": run.spec.to_json(),
        "train_config": json.dumps(run.train_config, sort_keys=True), "summary": json.dumps(s, default=str),
        "bytes": size,
    }  # fmt: skip


def _finite(value):
    """SQLite stores NaN as NULL anyway; say so explicitly."""
    return value if isinstance(value, (int, float)) and value == value and abs(value) != float("inf") else None
