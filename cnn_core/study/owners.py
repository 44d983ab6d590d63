"""Who trained a run: runs belong to a stable owner id (`u-` and 16 hex digits, the registry's `who`), and the name a
student shows on the board is looked up by that id, so a rename carries every earlier run with it. One table
(owner → name) in `owners.sqlite3` beside the run registry; a row that isn't an owner id (runs registered before
owner ids, or by the CLI) shows as it is."""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)
OWNER_RE = re.compile(r"u-[0-9a-f]{16}")
FILE = "owners.sqlite3"


def new_owner() -> str:
    """A fresh owner id: random, says nothing about the student."""
    return "u-" + secrets.token_hex(8)


def is_owner(text: object) -> bool:
    return isinstance(text, str) and OWNER_RE.fullmatch(text) is not None


class OwnerNames:
    """owner id → the name it shows, shared by every session of a server (and its processes)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, name TEXT NOT NULL, saved REAL)")
        return con

    def set(self, owner: str, name: str) -> None:
        if not is_owner(owner):
            raise ValueError(f"not an owner id: {owner!r}")
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO owners VALUES (?, ?, ?)", (owner, name, time.time()))

    def names(self, owners: Iterable[str] | None = None) -> dict[str, str]:
        """The names of these owners (every owner when None) that have one."""
        with self._connect() as con:
            rows = con.execute("SELECT owner, name FROM owners").fetchall()
        wanted = None if owners is None else set(owners)
        return {o: n for o, n in rows if wanted is None or o in wanted}

    def get(self, owner: str) -> str | None:
        return self.names([owner]).get(owner)


def shown_name(who: str | None, names: dict[str, str]) -> str:
    """What the board shows for a registry row's `who`: the owner's name, else the row's text as it is."""
    if is_owner(who):
        return names.get(who, "(no name)")
    return who or "(no name)"
