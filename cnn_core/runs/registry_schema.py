"""The run registry's table (its schema and rows), and how it mends itself: a removed folder or table is made
again, a corrupt database is kept under another name (never deleted) and replaced by a fresh one, and a fresh
table is refilled from the checkpoint files on disk, each registered from its own metadata (the session's name
is not in a file: it is lost).

Two processes that find the same damage at once take turns on a lock file; the second finds a healthy database
and leaves it alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
DB_NAME = "runs.sqlite3"
FILES = "checkpoints"
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
    problem TEXT,                 -- why its file can't be used (missing, damaged); NULL when fine
    test_acc REAL,                -- accuracy on its dataset's held-out images (the board's score); NULL: not yet
    test_split TEXT               -- which split test_acc was measured on: "test", else "val"
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (key, saved);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (saved);
"""
COLUMNS = ("run_id", "key", "status", "saved", "dataset", "val_acc", "val_loss", "epochs_run", "params",
           "train_seconds", "device", "who", "layers", "input", "num_classes", "data_config", "spec",
           "train_config", "summary", "bytes", "test_acc", "test_split")  # fmt: skip
LISTED = ("run_id", "key", "status", "saved", "dataset", "val_acc", "val_loss", "epochs_run", "params",
          "train_seconds", "device", "who", "layers", "input", "num_classes", "data_config", "train_config",
          "test_acc", "test_split")  # fmt: skip
INSERT = f"INSERT OR {{verb}} INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
ADDED = {"test_acc": "REAL", "test_split": "TEXT"}  # columns newer than the first schema: added to older databases

CORRUPT = ("file is not a database", "malformed", "not a database")  # sqlite3's words for a damaged file
WRITING_SECONDS = 300  # a checkpoint this recent may belong to a put() about to insert its row
ASIDE = ".corrupt-"  # runs.sqlite3.corrupt-20261204T143000-1234: a database moved aside


def heal(registry, exc: sqlite3.DatabaseError) -> bool:
    """Mend what `exc` says is broken; True if it was mended (try again), False if it is not this module's to mend."""
    text = str(exc).lower()
    if "no such table" in text or "unable to open database" in text or "no such column" in text:
        logger.warning("run registry in %s: %s; making it again", registry.folder, exc)
        registry._ready = False  # the next connection sets the folder and the tables up again
        return True
    if any(words in text for words in CORRUPT):
        aside = start_afresh(registry.folder)
        registry._ready = False
        if aside is not None:
            registry._warn(f"the run database was damaged ({exc}); it was moved aside to {aside.name} and a fresh "
                           "one started from the checkpoints on disk")  # fmt: skip
        return True
    return False


def start_afresh(folder: Path) -> Path | None:
    """Keep a corrupt database under another name and put a fresh one, already refilled from the checkpoints, in
    its place in one rename (no process ever sees it empty); where the old one went (None: it was healthy by the
    time this process held the lock, another one had mended it)."""
    path = folder / DB_NAME
    with _repair_lock(folder):
        if _healthy(path):
            return None
        fresh = folder / f".{DB_NAME}.{os.getpid()}.new"
        fresh.unlink(missing_ok=True)
        db = sqlite3.connect(fresh, timeout=30, isolation_level=None)
        try:
            set_up(db)
            restored = _insert_from_files(folder, db, warn=lambda m: logger.warning("run registry: %s", m))
        finally:
            db.close()
        aside = path.with_name(f"{DB_NAME}{ASIDE}{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        for suffix in ("-wal", "-shm"):  # the damaged file's log goes with it, never onto the fresh one
            try:
                os.replace(f"{path}{suffix}", f"{aside}{suffix}")
            except FileNotFoundError:
                pass
        os.link(path, aside)  # kept under its new name…
        os.replace(fresh, path)  # …and replaced in one step
        logger.error("run registry in %s: the database was damaged; kept as %s, a fresh one holds the %d "
                     "checkpoints on disk", folder, aside.name, restored)  # fmt: skip
        return aside


def set_up(db: sqlite3.Connection, tries: int = 100) -> bool:
    """WAL mode and the table; True if this call made the table (a database new or emptied: refill it).
    Switching the journal mode ignores the busy timeout, so two processes creating the database at once retry."""
    for attempt in range(tries):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            made = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone() is None
            db.executescript(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for name, kind in ADDED.items():  # a database made before these columns existed
                if name not in have:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
            return made
        except sqlite3.OperationalError as exc:
            if not ("locked" in str(exc) or "duplicate column" in str(exc)) or attempt == tries - 1:
                raise
            time.sleep(0.05)
    return False


def restore_rows(registry, db: sqlite3.Connection) -> int:
    """Register the checkpoints on disk that have no row (a table made afresh); how many were registered. A file
    written in the last WRITING_SECONDS is skipped: its writer inserts its own row (with its session's name)."""
    count = _insert_from_files(registry.folder, db, registry._warn, before=time.time() - WRITING_SECONDS)
    if count:
        registry._warn(f"the run table was missing: {count} checkpoints on disk were registered again")
    return count


def _insert_from_files(folder: Path, db: sqlite3.Connection, warn, before: float = float("inf")) -> int:
    from cnn_core.runs.checkpoint import load_checkpoint

    files = sorted(folder.joinpath(FILES).glob("*.pt"))
    known = {r[0] for r in db.execute("SELECT run_id FROM runs")} if files else set()
    count = 0
    for path in files:
        if not RUN_ID.match(path.stem) or path.stem in known:
            continue
        try:
            stat = path.stat()
            if stat.st_mtime >= before:
                continue
            run = load_checkpoint(path, verify=False)
            if run.run_id != path.stem:
                raise ValueError(f"it holds the run {run.run_id}")
        except FileNotFoundError:  # evicted meanwhile
            continue
        except (ValueError, OSError, MemoryError) as exc:  # kept on disk, not registered: reported
            warn(f"the checkpoint {path.name} could not be registered again: {exc}")
            continue
        values = {**row(run, "", stat.st_size), "saved": stat.st_mtime}
        db.execute(INSERT.format(verb="IGNORE"), [values[c] for c in COLUMNS])
        count += 1
    return count


def _healthy(path: Path) -> bool:
    if not path.exists():
        return True
    try:
        db = sqlite3.connect(path, timeout=30)
        try:
            return db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


@contextmanager
def _repair_lock(folder: Path):
    """One mender at a time across processes (POSIX advisory lock; elsewhere, none)."""
    try:
        import fcntl
    except ImportError:  # Windows: renaming an open database fails there anyway
        yield
        return
    with open(folder / ".repair.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def row(run, who: str, size: int) -> dict[str, Any]:
    s = run.summary
    return {
        "run_id": run.run_id, "key": run.key, "status": s.get("status", "completed"), "saved": time.time(),
        "dataset": run.data_config.dataset, "val_acc": s.get("val_acc"), "val_loss": _finite(s.get("val_loss")),
        "epochs_run": s.get("epochs_run"), "params": s.get("params"), "train_seconds": s.get("train_seconds"),
        "device": s.get("device"), "who": who, "layers": len(run.spec.layers), "input": json.dumps(list(run.spec.input)),
        "num_classes": run.spec.num_classes, "data_config": run.data_config.to_json(), "spec": run.spec.to_json(),
        "train_config": json.dumps(run.train_config, sort_keys=True), "summary": json.dumps(s, default=str),
        "bytes": size, "test_acc": _finite(s.get("test_acc")), "test_split": s.get("test_split"),
    }  # fmt: skip


def _finite(value):
    """SQLite stores NaN as NULL anyway; say so explicitly."""
    return value if isinstance(value, (int, float)) and value == value and abs(value) != float("inf") else None
