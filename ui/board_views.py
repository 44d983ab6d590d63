"""The class board's widgets and drawing: the student's name, the lesson and challenge pickers, the leaderboard,
and the teacher's clear-the-lesson behind a passphrase."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time

import pandas as pd
import streamlit as st

from cnn_core.study.board import (
    NAME_MAX,
    PASSPHRASE_VAR,
    Challenge,
    Lesson,
    clean_name,
    describe_network,
    random_name,
    runs_to_clear,
)
from cnn_core.study.owners import OwnerNames, is_owner, new_owner, shown_name
from cnn_core.words import count
from ui.echo import plain
from ui.jobs import shared_cache
from ui.lesson.session import BOARD_BUDGET
from ui.lesson.values import quote
from ui.state import seed_widget

NAME = "board_name"  # session key: the name this session's runs show on the board
OWNER = "board_owner"  # session key: the student's stable owner id (the registry's `who` of their runs)
OWNER_COOKIE = "cnn_lab_owner"  # the browser keeps the owner id here, so that a reload finds it (docs/teaching.md)
OWNER_SENT = "board_owner_sent"  # session key: the cookie was written this session
ss = st.session_state
log = logging.getLogger(__name__)


def owner_names() -> OwnerNames:
    """The server's owner → name table, beside its run registry (a path: nothing to cache)."""
    return OwnerNames(shared_cache().folder)


def owner_id() -> str:
    """This student's stable id: the one the browser's cookie holds (a reload is a new session), else a new one."""
    if OWNER not in ss:
        cookie = st.context.cookies.get(OWNER_COOKIE) if st.context.cookies else None
        ss[OWNER] = cookie if is_owner(cookie) else new_owner()
    return ss[OWNER]


def remember_owner() -> None:
    """The router calls it: once a session, the browser is asked to keep the owner id in a first-party cookie for a
    year. The value is ours (`u-` and hex digits, checked), never anything a user typed."""
    owner = owner_id()
    if OWNER_SENT in ss or not is_owner(owner) or (st.context.cookies or {}).get(OWNER_COOKIE) == owner:
        return
    ss[OWNER_SENT] = True
    st.sidebar.html(f"<script>document.cookie = '{OWNER_COOKIE}={owner}; max-age=31536000; path=/; SameSite=Lax';"
                    "</script>", unsafe_allow_javascript=True)  # fmt: skip


def _names(owners=None) -> dict[str, str]:
    try:
        return owner_names().names(owners)
    except sqlite3.Error as exc:
        log.warning("could not read the board's names: %s", exc)
        return {}


def _save_name(owner: str, name: str) -> None:
    try:
        owner_names().set(owner, name)
    except sqlite3.Error as exc:
        log.warning("could not save the board name of %s: %s", owner, exc)
        st.sidebar.warning(f"Your name could not be saved on this server ({exc}); it lasts until you reload.")


def board_name() -> str:
    """The session's name on the class board: the one its owner id has on this server, else a random one such as
    'Swift Otter 42' until the student picks one."""
    if NAME not in ss:
        owner = owner_id()
        ss[NAME] = _names([owner]).get(owner)
        if ss[NAME] is None:
            ss[NAME] = random_name(random.Random())
            _save_name(owner, ss[NAME])
    return ss[NAME]


def board_owner() -> str:
    """The owner id this session's runs are registered under (its name on the board made sure of)."""
    board_name()
    return owner_id()


def student_name() -> str:
    """The session's name on the class board, editable in the sidebar; a rename carries every earlier run."""
    ss.setdefault("board_who", board_name())
    typed = st.sidebar.text_input("Your name on the class board", key="board_who", max_chars=NAME_MAX,
                                  help="Any nickname: it is shown next to the runs you train, earlier ones too, and "
                                  "nothing else is stored about you. Pick a new one whenever you like.")  # fmt: skip
    try:
        name = clean_name(typed)
    except ValueError as exc:
        st.sidebar.error(f"{plain(exc)}; still {plain(repr(ss[NAME]))}.")
        return ss[NAME]
    if name != ss[NAME]:
        ss[NAME] = name
        _save_name(owner_id(), name)
    return ss[NAME]


def shown_names(rows: list[dict]) -> dict[str, str]:
    """who → the name the board shows, "(you)" added for this session's own runs."""
    me = owner_id()
    names = _names({r.get("who") for r in rows if is_owner(r.get("who"))})
    return {r.get("who"): shown_name(r.get("who"), names) + (" (you)" if r.get("who") == me else "") for r in rows}


def teacher_passphrase() -> str | None:
    """$CNN_LAB_TEACHER_PASSPHRASE, else the Streamlit secret of that name; None when neither is set."""
    value = os.environ.get(PASSPHRASE_VAR)
    if value:
        return value
    try:
        secret = st.secrets.get(PASSPHRASE_VAR)
    except Exception:  # no secrets file at all: Streamlit raises rather than returning nothing
        return None
    return None if secret is None or secret == "" else str(secret)  # TOML may hold a number: compared as text


def lesson_ui(lessons: list[Lesson], current_key: str | None) -> Lesson:
    """Pick a lesson; the session's own dataset first, else the lesson with the newest run."""
    keys = [lesson.key for lesson in lessons]
    if ss.get("board_lesson") not in keys:
        ss.board_lesson = current_key if current_key in keys else keys[0]
    titles = {lesson.key: f"{lesson.title} ({len(lesson.entries)} run{'s' * (len(lesson.entries) != 1)})" for lesson in lessons}
    key = st.selectbox("Lesson (dataset)", keys, key="board_lesson", format_func=titles.get,
                       help="Runs are grouped by the dataset they trained on: the same dataset settings make "
                       "the same lesson.")  # fmt: skip
    return lessons[keys.index(key)]


def challenge_ui() -> Challenge:
    left, right = st.columns(2)
    seed_widget("board_budget", ss.get(BOARD_BUDGET, 0))  # a link's budget=, or this session's last one
    budget = left.number_input("Parameter budget (0 = any size)", 0, 100_000_000, step=10_000, key="board_budget",
                               help="A class challenge: only networks with at most this many parameters compete, e.g. "
                               "100,000 for 'the best accuracy under 100k parameters'.")  # fmt: skip
    ss[BOARD_BUDGET] = budget  # the board's link carries it (budget=)
    metric = right.radio("Rank by", ("test_acc", "val_acc"), key="board_metric", horizontal=True,
                         format_func={"test_acc": "test accuracy", "val_acc": "validation accuracy"}.get,
                         help="Test accuracy is measured on images no run trained or was tuned on: the fair score.")  # fmt: skip
    return Challenge(max_params=budget or None, metric=metric)


def draw_leaderboard(rows: list[dict], me: str):
    """The ranked runs as a table; returns the selected row (a dict) or None. `me`: this session's name."""
    now = time.time()
    names = shown_names(rows)
    frame = pd.DataFrame({
        "rank": [r["rank"] for r in rows],
        "name": [names[r.get("who")] for r in rows],
        "network": [describe_network(r) for r in rows],
        "test accuracy": [r.get("test_acc") for r in rows],
        "validation accuracy": [r.get("val_acc") for r in rows],
        "parameters": [r.get("params") for r in rows],
        "training time (s)": [r.get("train_seconds") for r in rows],
        "trained": [_ago(now - r.get("saved", now)) for r in rows],
        "settings": [_train_words(r.get("train_config") or {}) for r in rows],
    })  # fmt: skip
    event = st.dataframe(frame, key="board_table", hide_index=True, on_select="rerun", selection_mode="single-row",
                         width="stretch", column_config={
                             "test accuracy": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                             "validation accuracy": st.column_config.NumberColumn(format="percent"),
                             "parameters": st.column_config.NumberColumn(format="localized"),
                             "training time (s)": st.column_config.NumberColumn(format="%.1f"),
                         })  # fmt: skip
    mine = sum(r.get("who") == owner_id() for r in rows)
    st.caption(f"{len(rows)} run{'s' * (len(rows) != 1)} in this challenge, {mine} of them yours ({plain(me)}). "
               "Select a row to open it in Evaluation or to load its settings.")  # fmt: skip
    chosen = event.selection.rows if event is not None else []
    return rows[chosen[0]] if chosen and chosen[0] < len(rows) else None


def _ago(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    return "just now" if minutes < 1 else f"{minutes} min ago" if minutes < 60 else f"{minutes // 60} h ago"


def _train_words(cfg: dict) -> str:
    if not cfg:
        return ""
    return (f"{cfg.get('optimizer')} lr {cfg.get('lr', 0):g}, batch {cfg.get('batch_size')}, {cfg.get('epochs')} epochs, "
            f"seed {cfg.get('seed')}")


CLEAR_PENDING = "board_clear_pending"  # session key: (lesson key, lesson title, run ids) awaiting confirmation
CLEARED = "board_cleared"  # session key: (ok, what the last clear did), said once


def teacher_ui(lesson: Lesson, entries: list[dict], remove, warnings: list[str] = ()) -> None:
    """Clear a lesson's runs behind the teacher's passphrase, after a confirmation that names what goes;
    `remove(run_ids)` deletes them from the registry. The passphrase is forgotten either way.
    `warnings`: what the server's run store could not read or write lately (also in the server's log)."""
    expected = teacher_passphrase()
    pending = ss.get(CLEAR_PENDING)
    with st.expander("For the teacher", icon=":material/lock:", expanded=bool(pending)):
        if warnings:
            st.caption("The server's run store reported (newest last; the server's log has each one):")
            st.text("\n".join(warnings[-5:]))  # as text: a message may quote a file's name
        if not expected:
            st.caption(f"Clearing the board is switched off. To allow it, start the server with a passphrase in "
                       f"`${PASSPHRASE_VAR}` or in Streamlit secrets (`{PASSPHRASE_VAR} = \"…\"`).")  # fmt: skip
            return
        if pending:
            _, title, doomed = pending
            st.warning(f"Remove the {count(len(doomed), 'run')} of the lesson {quote(title, 80)} from the class board, for every "
                       "student? Their models go too; this can't be undone.", icon=":material/warning:")  # fmt: skip
            yes, no = st.columns(2)
            yes.button(f"Yes, clear {count(len(doomed), 'run')}", type="primary", key="board_clear_yes", on_click=_clear,
                       args=(remove,), width="stretch")  # fmt: skip
            no.button("Cancel", key="board_clear_no", on_click=_forget_clear, width="stretch")
            return
        with st.form("board_clear", border=False):
            given = st.text_input("Teacher's passphrase", type="password", key="board_passphrase",
                                  help="Set on the server; students don't have it, so they can't remove anyone's runs.")
            go = st.form_submit_button(f"Clear this lesson ({count(len(lesson.entries), 'run')})…", icon=":material/delete:")
        if go:
            try:
                doomed = runs_to_clear(entries, lesson.key, given, expected)
            except PermissionError as exc:
                st.error(f"Not cleared: {exc}.")
                return
            ss[CLEAR_PENDING] = (lesson.key, lesson.title, doomed)
            st.rerun()


def show_cleared() -> None:
    """What the teacher's last clear removed, once (above everything: the lesson itself is gone)."""
    if done := ss.pop(CLEARED, None):
        ok, text = done
        st.success(text, icon=":material/delete:") if ok else st.error(text)


def _clear(remove) -> None:
    _, title, doomed = ss[CLEAR_PENDING]
    try:
        removed = remove(doomed)
    except OSError as exc:  # the registry's disk refused (logged by the cache)
        ss[CLEARED] = (False, f"Not cleared: {plain(exc)}.")
        _forget_clear()
        return
    n = removed if isinstance(removed, int) else len(doomed)
    ss[CLEARED] = (True, f"Cleared {count(n, 'run')} of the lesson {quote(title, 80)}. The passphrase was forgotten: type it "
                   "again to clear another.")  # fmt: skip
    _forget_clear()


def _forget_clear() -> None:
    ss.pop(CLEAR_PENDING, None)
    ss.pop("board_passphrase", None)  # the form is not drawn in this run: its value may go
