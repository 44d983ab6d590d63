import dataclasses

import streamlit as st

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.study.board import group_by_lesson, leaderboard, test_accuracy
from ui.board_views import challenge_ui, draw_leaderboard, lesson_ui, show_cleared, student_name, teacher_ui
from ui.jobs import shared_cache
from ui.lesson.nav import page_link, switch_page
from ui.lesson.params import Link
from ui.lesson.presenting import intro
from ui.lesson.session import apply_link, network_of
from ui.state import DATA_CONFIG, MY_DIGESTS, shared_dataset

UNSCORED = "board_unscored"  # session key: run ids this session could not score (another learner's images…)


def test_score(entry: dict) -> float | None:
    """A run's held-out accuracy: stored in the registry when the run was registered; else measured here once and
    stored for everyone. What one session can't measure (another learner's images) is remembered for that session
    only, never cached for the others."""
    if isinstance(entry.get("test_acc"), (int, float)):
        return entry["test_acc"]
    skipped = st.session_state.setdefault(UNSCORED, set())
    if entry["run_id"] in skipped:
        return None
    run = shared_cache().get_run(entry["run_id"])
    try:
        split, accuracy = test_accuracy(run, shared_dataset(run.data_config)) if run is not None else (None, None)
    except ValueError:  # images this session doesn't hold, a dataset with no held-out images, a store not readable
        split = None
    if split is None:
        skipped.add(entry["run_id"])
        return None
    shared_cache().record_score(entry["run_id"], split, accuracy)
    return accuracy


def scored(entries: list[dict]) -> list[dict]:
    """The entries with their test accuracy (None where it can't be measured)."""
    with st.spinner("Scoring new runs on their test images…"):
        return [{**entry, "test_acc": test_score(entry)} for entry in entries]


def open_run(run_id: str, page: str) -> None:
    """Evaluation: the run becomes this session's model. Training: its dataset, network and settings load."""
    run = shared_cache().get_run(run_id)
    if run is None:
        st.error("This run's checkpoint can't be read any more (see the server's warnings).")
        return
    if page == "evaluation":
        st.session_state.setdefault("runs", []).append(run)
        st.session_state["active_run"] = run
        st.session_state.pop("ev_source", None)  # Evaluation shows the active model
        switch_page("app_pages/evaluation.py")  # it asks for the images if they are another learner's
    if run.data_config.dataset == "folder" and run.data_config.digest not in st.session_state.get(MY_DIGESTS, {}):
        st.error("This run trained on its student's own images, which only that student has, so its settings "
                 "can't be loaded here. Bring the same images on the Dataset page first, or pick another run.")
        return
    network = network_of(run.spec)  # a preset, a block design or (neither) the layer list itself
    link = Link(data=run.data_config.to_dict(), train=dict(run.train_config),
                arch={"preset": network} if isinstance(network, str) else
                dataclasses.asdict(network) if isinstance(network, BlockDesign) else {})  # fmt: skip
    apply_link(link, spec=run.spec)  # the lesson's network on every page until the student changes it
    switch_page("app_pages/training.py")


st.title("Class board")
intro(
    "Every model trained on this server, with the name its student picked. Runs on the same dataset settings form "
    "a **lesson**; pick one and set a **challenge** (say, the best test accuracy under 100k parameters) for a live "
    "leaderboard. Identical settings train only once, so students who ask for the same run share it."
)
me = student_name()
show_cleared()
cache = shared_cache()
entries = cache.listing(limit=1000)
lessons = group_by_lesson(entries)
if not lessons:
    st.info("Nobody has trained a model on this server yet. Train one, and it appears here.")
    page_link("app_pages/training.py", label="Training: train a model", icon=":material/model_training:")
    st.stop()

current = st.session_state.get(DATA_CONFIG) or DataConfig()
lesson = lesson_ui(lessons, current.key())
challenge = challenge_ui()
rows = leaderboard(scored(list(lesson.entries)), challenge)
st.subheader(f"Leaderboard: {challenge.describe()}")
if not rows:
    st.info("No finished run of this lesson is in this challenge yet (stopped runs don't count).")
chosen = draw_leaderboard(rows, me) if rows else None
if chosen is not None:
    left, right = st.columns(2)
    if left.button("Open in Evaluation", icon=":material/fact_check:", key="board_open", width="stretch",
                   help="Evaluate this run: scores, mistakes, filters and Grad-CAM."):  # fmt: skip
        open_run(chosen["run_id"], "evaluation")
    if right.button("Load its settings", icon=":material/tune:", key="board_load", width="stretch",
                    help="Its dataset, network and training settings, on the Training page: train it yourself, or "
                    "change one thing and try to beat it."):  # fmt: skip
        open_run(chosen["run_id"], "training")
teacher_ui(lesson, entries, cache.forget, cache.warnings)
