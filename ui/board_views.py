"""The class board's widgets and drawing: the student's name, the lesson and challenge pickers, the leaderboard,
and the teacher's clear-the-lesson behind a passphrase."""

from __future__ import annotations

import os
import random
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
from ui.echo import plain

NAME = "board_name"  # session key: the name this session's runs carry on the board (the registry's `who`)
ss = st.session_state


def board_name() -> str:
    """The session's name on the class board: a random one such as 'Swift Otter 42' until the student picks one."""
    if NAME not in ss:
        ss[NAME] = random_name(random.Random())
    return ss[NAME]


def student_name() -> str:
    """The session's name on the class board, editable in the sidebar."""
    ss.setdefault("board_who", board_name())
    typed = st.sidebar.text_input("Your name on the class board", key="board_who", max_chars=NAME_MAX,
                                  help="Any nickname: it is shown next to the runs you train, and nothing else is "
                                  "stored about you. Pick a new one whenever you like.")  # fmt: skip
    try:
        ss[NAME] = clean_name(typed)
    except ValueError as exc:
        st.sidebar.error(f"{plain(exc)}; still {plain(repr(ss[NAME]))}.")
    return ss[NAME]


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
    budget = left.number_input("Parameter budget (0 = any size)", 0, 100_000_000, 0, step=10_000, key="board_budget",
                               help="A class challenge: only networks with at most this many parameters compete, e.g. "
                               "100,000 for 'the best accuracy under 100k parameters'.")  # fmt: skip
    metric = right.radio("Rank by", ("test_acc", "val_acc"), key="board_metric", horizontal=True,
                         format_func={"test_acc": "test accuracy", "val_acc": "validation accuracy"}.get,
                         help="Test accuracy is measured on images no run trained or was tuned on: the fair score.")  # fmt: skip
    return Challenge(max_params=budget or None, metric=metric)


def draw_leaderboard(rows: list[dict], me: str):
    """The ranked runs as a table; returns the selected row (a dict) or None."""
    now = time.time()
    frame = pd.DataFrame({
        "rank": [r["rank"] for r in rows],
        "name": [r.get("who") or "(no name)" for r in rows],
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
    mine = sum(r.get("who") == me for r in rows)
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


def teacher_ui(lesson: Lesson, entries: list[dict], remove, warnings: list[str] = ()) -> None:
    """Clear a lesson's runs behind the teacher's passphrase; `remove(run_ids)` deletes them from the registry.
    `warnings`: what the server's run store could not read or write lately (also in the server's log)."""
    expected = teacher_passphrase()
    with st.expander("For the teacher", icon=":material/lock:"):
        if warnings:
            st.caption("The server's run store reported (newest last; the server's log has each one):")
            st.text("\n".join(warnings[-5:]))  # as text: a message may quote a file's name
        if not expected:
            st.caption(f"Clearing the board is switched off. To allow it, start the server with a passphrase in "
                       f"`${PASSPHRASE_VAR}` or in Streamlit secrets (`{PASSPHRASE_VAR} = \"…\"`).")  # fmt: skip
            return
        with st.form("board_clear", border=False):
            given = st.text_input("Teacher's passphrase", type="password", key="board_passphrase",
                                  help="Set on the server; students don't have it, so they can't remove anyone's runs.")
            go = st.form_submit_button(f"Clear this lesson ({len(lesson.entries)} runs)", icon=":material/delete:")
        if go:
            try:
                doomed = runs_to_clear(entries, lesson.key, given, expected)
            except PermissionError as exc:
                st.error(f"Not cleared: {exc}.")
                return
            try:
                remove(doomed)
            except OSError as exc:  # the registry's disk refused (logged by the cache)
                st.error(f"Not cleared: {exc}.")
                return
            st.success(f"Cleared {len(doomed)} run{'s' * (len(doomed) != 1)} of this lesson.")
