"""The run registry: every finished run's facts in SQLite (WAL mode), its weights in a checkpoint file beside it.

The folder holds `runs.sqlite3` and `checkpoints/<run_id>.pt`. A checkpoint is written to a temporary file of
its own and renamed into place before its row is inserted, so a row always names a complete file and readers
in other processes (listings are queries) never see half a run. A file that is missing or can't be read is
reported in `warnings` and skipped, never deleted: only evicted runs (the folder keeps the newest `max_runs`
and at most `max_bytes` of checkpoints) and stale temporary files (definitely not checkpoints) are removed.
A removed folder or table is made again and a corrupt database moved aside (cnn_core.runs.registry_schema).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from contextlib import closing
from pathlib import Path
from typing import Any

from cnn_core.runs.registry_schema import COLUMNS, DB_NAME, FILES, INSERT, LISTED, RUN_ID, heal, restore_rows, row, set_up

logger = logging.getLogger(__name__)

# Runs that are what their configuration gives, so found by key ("unstable": completed, with a warning that it
# barely learned: the same configuration would give the same again). Stopped and diverged runs are not.
CACHEABLE = ("completed", "early stopping", "unstable")
MAX_RUNS_VAR = "CNN_LAB_CACHE_MAX_RUNS"  # environment variable: runs kept on disk (default 500)
DEFAULT_MAX_RUNS = 500
STALE_TMP_SECONDS = 3600  # a temporary file this old belongs to a writer that died
MAX_WARNINGS = 50  # the newest warnings kept for the pages; every one is logged


def default_max_runs() -> int:
    value = os.environ.get(MAX_RUNS_VAR, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_RUNS


class RunRegistry:
    """Finished runs on disk, safe to use from many threads and processes at once."""

    def __init__(self, folder: str | Path, max_runs: int | None = None, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.max_runs = max_runs or default_max_runs()
        self.max_bytes = max_bytes  # None: no size bound
        self._warnings: deque[str] = deque(maxlen=MAX_WARNINGS)
        self._lock = threading.Lock()
        self._ready = False

    @property
    def warnings(self) -> list[str]:
        """The newest MAX_WARNINGS things that could not be read (each one is logged too)."""
        with self._lock:
            return list(self._warnings)

    # ---------------------------------------------------------------- writing

    def put(self, run, who: str = "") -> None:
        """Register a finished run (any status) and write its checkpoint; OSError if the folder can't be written."""
        from cnn_core.runs.checkpoint import save_checkpoint

        if not RUN_ID.match(run.run_id):
            raise ValueError(f"a run id is lowercase hex, got {run.run_id!r}")
        path = self._path(run.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(run, path)  # complete on disk before any reader can find its row
        values = row(run, who, path.stat().st_size)
        self._db(lambda db: db.execute(INSERT.format(verb="REPLACE"), [values[c] for c in COLUMNS]))
        self._evict()

    def record_score(self, run_id: str, split: str, accuracy: float) -> None:
        """Store a run's held-out accuracy measured after it was registered (runs registered before scores were)."""
        self._db(lambda db: db.execute("UPDATE runs SET test_acc = ?, test_split = ? WHERE run_id = ?",
                                       (float(accuracy), split, run_id)))  # fmt: skip

    def _evict(self) -> None:
        """Oldest runs out beyond the count and size bounds; stale temporary files out."""

        def doom(db) -> list[str]:
            db.execute("BEGIN IMMEDIATE")  # one evicter at a time, across processes
            rows = db.execute("SELECT run_id, bytes FROM runs ORDER BY saved DESC, rowid DESC").fetchall()
            total, doomed = 0, []
            for i, (run_id, size) in enumerate(rows):
                total += size
                if i >= self.max_runs or (self.max_bytes is not None and total > self.max_bytes and i > 0):
                    doomed.append(run_id)
            db.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in doomed])
            return doomed

        doomed = self._db(doom)
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
        gone = self._db(lambda db: db.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in ids]).rowcount)
        for run_id in ids:  # rows first, as in eviction: a reader never finds a row without its file
            self._path(run_id).unlink(missing_ok=True)
        return gone

    # ---------------------------------------------------------------- reading

    def find(self, key: str):
        """The newest completed or early-stopped run of a configuration key whose file loads, or None."""
        if not self._exists():
            return None
        ids = [r[0] for r in self._db(lambda db: db.execute(
            f"SELECT run_id FROM runs WHERE key = ? AND status IN ({', '.join('?' * len(CACHEABLE))}) "
            "AND problem IS NULL ORDER BY saved DESC, rowid DESC", (key, *CACHEABLE)).fetchall())]  # fmt: skip
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
        rows = self._db(lambda db: db.execute(f"SELECT {', '.join(LISTED)} FROM runs WHERE problem IS NULL "
                                              "ORDER BY saved DESC, rowid DESC LIMIT ?", (limit,)).fetchall())  # fmt: skip
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
        return self._db(lambda db: db.execute(
            "SELECT run_id, problem FROM runs WHERE problem IS NOT NULL ORDER BY saved").fetchall())

    # ---------------------------------------------------------------- plumbing

    def _path(self, run_id: str) -> Path:
        return self.folder / FILES / f"{run_id}.pt"

    def _exists(self) -> bool:
        return (self.folder / DB_NAME).exists()

    def _db(self, work):
        """`work(db)` on a connection of its own. A removed folder, database or table is made again and a corrupt
        database moved aside (kept) for a fresh one, both refilled from the checkpoints on disk; then `work` runs
        once more. Other errors (a full or read-only disk) are raised to the caller, who reports them."""
        for attempt in (1, 2):
            try:
                with self._connect() as db:
                    return work(db)
            except sqlite3.DatabaseError as exc:
                if attempt == 2 or not heal(self, exc):
                    raise

    def _connect(self) -> closing[sqlite3.Connection]:
        """A connection of this call's own (safe across threads), in autocommit mode, waiting out other writers."""
        path = self.folder / DB_NAME
        fresh = not path.exists()  # never made, or removed (with its folder?) while the server ran
        if fresh or not self._ready:
            self.folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        if fresh or not self._ready:
            try:
                if set_up(db):  # the table was made just now: the checkpoints on disk get their rows again
                    restore_rows(self, db)
            except BaseException:
                db.close()
                raise
            self._ready = True
        return _Connection(db)

    def _mark(self, run_id: str, problem: str) -> None:
        """Remember why a run's file can't be used (it is skipped from then on) and report it; the file stays.

        A run evicted meanwhile by another process has no row any more: nothing to report then."""
        if self._db(lambda db: db.execute("UPDATE runs SET problem = ? WHERE run_id = ?", (problem, run_id)).rowcount):
            self._warn(problem)

    def _warn(self, message: str) -> None:
        logger.warning("run registry in %s: %s", self.folder, message)
        with self._lock:
            self._warnings.append(message)


class _Connection(closing):
    """`with` gives the connection and closes it after: the block runs in autocommit, or in its own BEGIN."""

    def __enter__(self) -> sqlite3.Connection:
        return self.thing

    def __exit__(self, exc_type, *rest) -> None:
        db = self.thing
        if db.in_transaction:
            db.execute("ROLLBACK" if exc_type else "COMMIT")
        db.close()
