"""Drawing for the Training page: live progress, curves, the table of runs and downloads."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from cnn_core.runs.checkpoint import checkpoint_bytes
from cnn_core.training.config import TrainConfig
from cnn_core.training.run import TrainedRun
from ui.curves import draw_curves
from ui.lesson.nav import page_link
from ui.static_table import bar, draw_table, table_html

NAMES = "run_names"  # session key: run id → the name the learner gave it


def link(page: str, label: str) -> None:
    """st.page_link, or plain words where the page isn't registered (e.g. a lone page under test)."""
    try:
        page_link(page, label=label)
    except Exception:  # StreamlitPageNotFoundError and friends: the router doesn't list it (yet)
        st.markdown(f"Go to **{label.split(':')[0]}** in the page menu.")


def seconds(value: float | None) -> str:
    if value is None:
        return "…"
    value = int(round(value))
    return f"{value // 60} min {value % 60:02d} s" if value >= 60 else f"{value} s"


def draw_progress(snap: dict, config: TrainConfig) -> None:
    """Where the job stands: queue position, or epoch, ETA and the curves so far."""
    if snap["state"] == "queued":
        st.info(f"Waiting for a free trainer: you are **number {snap['position']}** in the queue. "
                "Other learners on this server are training right now.")  # fmt: skip
        return
    done = len(snap["history"])
    eta = f"ETA {seconds(snap['eta'])}" if snap["eta"] is not None else "ETA after two epochs"
    text = f"Epoch {min(done + 1, config.epochs)} of {config.epochs} · {seconds(snap['elapsed'])} so far · {eta}"
    if snap["stopping"]:
        text = "Stopping…"
    st.progress(snap["fraction"], text=text)
    if snap["history"]:
        last = snap["history"][-1]
        cols = st.columns(4)
        cols[0].metric("Training loss", f"{last['train_loss']:.4f}")
        cols[1].metric("Validation loss", f"{last['val_loss']:.4f}")
        cols[2].metric("Validation accuracy", f"{last['val_acc']:.1%}")
        cols[3].metric("Seconds per epoch", f"{last['seconds']:.2f}")
        draw_curves({"this run": snap["history"]}, key="tr_live_curves", epochs=config.epochs)


def draw_result(run: TrainedRun) -> None:
    """The outcome of a finished run in one line, coloured by how it ended."""
    s = run.summary
    cached = " (from the cache: this exact configuration was trained before)" if s.get("cached") else ""
    text = f"**{s['status'].capitalize()}**: {s['reason']}. Validation accuracy **{s['val_acc']:.1%}**{cached}."
    {"completed": st.success, "early stopping": st.success, "stopped": st.warning, "unstable": st.warning}.get(
        s["status"], st.error)(text)


def run_name(run: TrainedRun, number: int) -> str:
    """The learner's name for a run, else 'Run N'."""
    return st.session_state.get(NAMES, {}).get(run.run_id) or f"Run {number}"


def runs_table(runs: list[TrainedRun], active: TrainedRun | None) -> pd.DataFrame:
    """One row per run, the columns that tell runs apart first (nothing hides behind a horizontal scroll)."""
    rows = []
    for i, run in enumerate(runs, 1):
        s, cfg = run.summary, TrainConfig.from_dict(run.train_config)
        rows.append({
            "run": ("▶ " if run is active else "") + run_name(run, i),
            "status": s["status"] + (" (cached)" if s.get("cached") else ""),
            "best val acc": s.get("best_val_acc", s["val_acc"]), "final val acc": s["val_acc"],
            "epochs": s["epochs_run"], "time (s)": round(s["train_seconds"], 1),
            "training": cfg.summary(), "model": model_summary(run),
        })  # fmt: skip
    return pd.DataFrame(rows)


def model_summary(run: TrainedRun) -> str:
    c, h, w = run.spec.input
    return f"{len(run.spec.layers)} layers, {run.summary['params']:,} weights, {run.data_config.dataset} {c}×{h}×{w}"


RUN_COLUMNS = {"best val acc": "The best validation accuracy of any epoch (early stopping keeps that epoch's weights)",
               "final val acc": "The validation accuracy after the last epoch",
               "time (s)": "Seconds of training, validation included",
               "training": "The optimiser, learning rate, batch size, schedule and seed",
               "model": "Its layers, weights and the data it was trained on"}  # fmt: skip


def _run_cell(column: str, value) -> str:
    """A runs-table cell's CSS: a bar behind the best accuracy; room for "▶ Run 12" on one line."""
    return bar(value) if column == "best val acc" else "min-width: 5.5em" if column == "run" else ""


def draw_runs(runs: list[TrainedRun], active: TrainedRun | None) -> None:
    """The runs as a static table (one HTML element: no data grid's code for the browser to load and draw on the
    page a first training ends on), the best accuracy with a bar behind it; names are the learner's text, escaped."""
    frame = runs_table(runs, active)
    percent = "{:.1%}".format
    html = table_html(frame, index=False, titles=RUN_COLUMNS,
                      style=lambda i, j, v: _run_cell(frame.columns[j], v),
                      formats={"best val acc": percent, "final val acc": percent, "time (s)": "{:.1f}".format},
                      label="This session's runs")
    draw_table(html, key="tr_runs_table")


def draw_comparison(runs: list[TrainedRun]) -> None:
    """Several runs' curves on one chart, by the names the learner gave them: overfitting and each setting's effect."""
    chosen = st.multiselect("Runs to compare", range(len(runs)), default=list(range(len(runs)))[-4:],
                            format_func=lambda i: run_name(runs[i], i + 1),
                            key=f"tr_compare_{len(runs)}",  # a new run starts a new choice: the latest four
                            help="Overlay the curves of several runs: change one setting between two runs and see "
                            "what it does. Dashed lines are training, solid ones validation.")  # fmt: skip
    draw_curves({run_name(runs[i], i + 1): runs[i].history for i in chosen}, key="tr_compare_curves")


def name_ui(run: TrainedRun, number: int) -> None:
    """A text box to name the active run (e.g. 'lr 0.01'), kept for this session."""
    names = st.session_state.setdefault(NAMES, {})
    key = f"tr_name_{run.run_id}"
    if key not in st.session_state:
        st.session_state[key] = names.get(run.run_id, "")
    name = st.text_input("Name this run", key=key, placeholder=f"Run {number}", max_chars=40,
                         help="A name to tell runs apart in the table and the comparison chart, e.g. "
                         "'lr 0.01' or 'with augmentation'.")  # fmt: skip
    names[run.run_id] = name.strip()


def draw_warnings(warnings: list[str]) -> None:
    for text in warnings:
        st.warning(text, icon=":material/warning:")


def config_json(run: TrainedRun) -> str:
    """Everything needed to train the run again, as JSON."""
    return json.dumps({"data_config": run.data_config.to_dict(), "spec": run.spec.to_dict(),
                       "train_config": run.train_config, "summary": run.summary, "key": run.key,
                       "run_id": run.run_id}, indent=2)  # fmt: skip


def draw_downloads(run: TrainedRun, number: int) -> None:
    left, right = st.columns(2)
    left.download_button("Download the checkpoint (.pt)", data=lambda: checkpoint_bytes(run), on_click="ignore",
                         file_name=f"cnn-lab-run{number}-{run.run_id[:8]}.pt", mime="application/octet-stream",
                         key="tr_download_ckpt",
                         help="Weights, model spec, dataset and training configs, and history, in one PyTorch file. "
                         "Load it with torch.load(path, weights_only=True).")  # fmt: skip
    right.download_button("Download the configuration (.json)", data=config_json(run), on_click="ignore",
                          file_name=f"cnn-lab-run{number}-{run.run_id[:8]}.json", mime="application/json",
                          key="tr_download_json",
                          help="The dataset settings, the network and the training settings: enough to train "
                          "the same model again.")  # fmt: skip
