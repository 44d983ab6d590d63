import dataclasses

import streamlit as st

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.study.board import group_by_lesson, leaderboard, test_accuracy
from ui.board_views import challenge_ui, draw_leaderboard, lesson_ui, show_cleared, student_name, teacher_ui
from ui.jobs import shared_cache
from ui.lesson.params import Link
from ui.lesson.presenting import intro
from ui.lesson.session import apply_link, network_of
from ui.state import DATA_CONFIG, shared_dataset


@st.cache_data(max_entries=2000, show_spinner=False)
def test_score(run_id: str) -> tuple[str, float] | None:
    """(split, accuracy) of a registered run on its own dataset's held-out images; once per run and server."""
    run = shared_cache().get_run(run_id)
    if run is None:
        return None
    try:
        return test_accuracy(run, shared_dataset(run.data_config))
    except ValueError:  # a dataset with no held-out images
        return None


def scored(entries: list[dict]) -> list[dict]:
    """The entries with their test accuracy (None where it can't be measured)."""
    out = []
    with st.spinner("Scoring new runs on their test images…"):
        for entry in entries:
            score = test_score(entry["run_id"])
            out.append({**entry, "test_acc": score[1] if score else None})
    return out


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
        st.switch_page("app_pages/evaluation.py")
    network = network_of(run.spec)  # a preset, a block design or (neither) the layer list itself
    link = Link(data=run.data_config.to_dict(), train=dict(run.train_config),
                arch={"preset": network} if isinstance(network, str) else
                dataclasses.asdict(network) if isinstance(network, BlockDesign) else {})  # fmt: skip
    apply_link(link, spec=run.spec)  # the lesson's network on every page until the student changes it
    st.switch_page("app_pages/training.py")


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
    st.page_link("app_pages/training.py", label="Training: train a model", icon=":material/model_training:")
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
teacher_ui(lesson, entries, cache.forget)
