"""Drawing for the Training page: live progress, curves, the table of runs and downloads."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
from plotly.subplots import make_subplots

from cnn_core.checkpoint import TrainedRun, checkpoint_bytes
from cnn_core.train import TrainConfig
from ui.plots import compact

TRAIN_COLOUR, VAL_COLOUR, LR_COLOUR = "#1f77b4", "#ff7f0e", "#2ca02c"


def link(page: str, label: str) -> None:
    """st.page_link, or plain words where the page isn't registered (e.g. a lone page under test)."""
    try:
        st.page_link(page, label=label)
    except Exception:  # StreamlitPageNotFoundError and friends: the router doesn't list it (yet)
        st.markdown(f"Go to **{label.split(':')[0]}** in the page menu.")


def seconds(value: float | None) -> str:
    if value is None:
        return "…"
    value = int(round(value))
    return f"{value // 60} min {value % 60:02d} s" if value >= 60 else f"{value} s"


CURVE_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


def draw_curves(history: list[dict], epochs: int, key: str) -> None:
    """Loss, accuracy and learning rate per epoch, train and validation side by side."""
    points = tuple(tuple(h[name] for name in CURVE_FIELDS) for h in history)
    st.plotly_chart(curves_figure(points, epochs), key=key)


@st.cache_resource(max_entries=64, show_spinner=False)
def curves_figure(points: tuple[tuple[float, ...], ...], epochs: int):
    """The curves' figure, built once per epoch for every session watching a run, not at each rerun of each."""
    column = dict(zip(CURVE_FIELDS, zip(*points))) if points else dict.fromkeys(CURVE_FIELDS, ())
    fig = make_subplots(1, 3, subplot_titles=("Loss (lower is better)", "Accuracy", "Learning rate"),
                        horizontal_spacing=0.07)  # fmt: skip
    x = list(column["epoch"])
    for col, metric in ((1, "loss"), (2, "acc")):
        for split, colour in (("train", TRAIN_COLOUR), ("val", VAL_COLOUR)):
            fig.add_scatter(x=x, y=list(column[f"{split}_{metric}"]), mode="lines+markers", row=1, col=col,
                            name="training" if split == "train" else "validation", line=dict(color=colour),
                            legendgroup=split, showlegend=col == 1)  # fmt: skip
    fig.add_scatter(x=x, y=list(column["lr"]), mode="lines+markers", row=1, col=3, name="learning rate",
                    line=dict(color=LR_COLOUR, shape="hv"), showlegend=False)  # fmt: skip
    fig.update_xaxes(title_text="epoch", range=[0.5, max(epochs, 1) + 0.5])
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return compact(fig, 300)


def draw_progress(snap: dict, config: TrainConfig) -> None:
    """Where the job stands: queue position, or epoch, ETA and the curves so far."""
    if snap["state"] == "queued":
        st.info(f"Waiting for a free trainer: you are **number {snap['position']}** in the queue. "
                "Other learners on this server are training right now.")  # fmt: skip
        return
    done = len(snap["history"])
    text = (f"Epoch {min(done + 1, config.epochs)} of {config.epochs} · {seconds(snap['elapsed'])} so far · "
            f"ETA {seconds(snap['eta'])}")
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
        draw_curves(snap["history"], config.epochs, key="tr_live_curves")


def draw_result(run: TrainedRun) -> None:
    """The outcome of a finished run in one line, coloured by how it ended."""
    s = run.summary
    cached = " (from the cache: this exact configuration was trained before)" if s.get("cached") else ""
    text = f"**{s['status'].capitalize()}**: {s['reason']}. Validation accuracy **{s['val_acc']:.1%}**{cached}."
    {"completed": st.success, "early stopping": st.success, "stopped": st.warning}.get(s["status"], st.error)(text)


def runs_table(runs: list[TrainedRun], active: TrainedRun | None) -> pd.DataFrame:
    rows = []
    for i, run in enumerate(runs, 1):
        s, cfg = run.summary, TrainConfig.from_dict(run.train_config)
        rows.append({
            "run": i, "active": "✔" if run is active else "", "model": model_summary(run),
            "training": cfg.summary(), "status": s["status"],
            "best val acc": s.get("best_val_acc", s["val_acc"]), "final val acc": s["val_acc"],
            "epochs": s["epochs_run"], "time (s)": round(s["train_seconds"], 1),
            "device": s.get("device_name", s["device"]), "cached": "cached" if s.get("cached") else "",
        })  # fmt: skip
    return pd.DataFrame(rows)


def model_summary(run: TrainedRun) -> str:
    c, h, w = run.spec.input
    return f"{len(run.spec.layers)} layers, {run.summary['params']:,} weights, {run.data_config.dataset} {c}×{h}×{w}"


def draw_runs(runs: list[TrainedRun], active: TrainedRun | None) -> None:
    st.dataframe(runs_table(runs, active), hide_index=True, key="tr_runs_table",
                 column_config={"best val acc": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                                "final val acc": st.column_config.NumberColumn(format="percent")})  # fmt: skip


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
