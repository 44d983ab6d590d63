"""Drawing for the Experiments page: live runs, an exercise's results, a sweep's table and charts, and
"use the best" (the chosen design and settings handed to the Architecture and Training pages)."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.study.exercises import ExperimentConfig
from cnn_core.study.experiments import ExperimentResult
from cnn_core.study.statistics import ci_text, mean, percent, sample_std, signed_points
from cnn_core.study.sweeps import best_caveat, describe
from cnn_core.training.config import TrainConfig
from ui.plots import class_colour, compact
from ui.state import build_dataset

COUNTS = ("parameters", "MACs")  # big whole numbers, shown with thousands separators
STATE_LABELS = {"queued": "waiting", "running": "training", "done": "finished", "cached": "cached",
                "stopped": "stopped", "failed": "failed"}  # fmt: skip


def progress_frame(states) -> pd.DataFrame:
    """One row per run: what it is, where it stands, its validation and test accuracy so far."""
    rows = []
    for s in states:
        t = s.trial
        rows.append({
            "run": t.label if not t.settings else f"{t.label}: {describe(t.settings)}", "seed": t.seed,
            "state": STATE_LABELS[s.state], "progress": s.progress,
            "val acc": s.history[-1]["val_acc"] if s.history else None,
            "test acc": s.scores.get("test_acc"), "note": s.error,
        })  # fmt: skip
    return pd.DataFrame(rows)


def draw_progress(states, key: str) -> None:
    counts = {}
    for s in states:
        counts[STATE_LABELS[s.state]] = counts.get(STATE_LABELS[s.state], 0) + 1
    st.caption(" · ".join(f"{n} {label}" for label, n in counts.items()))
    st.dataframe(progress_frame(states), hide_index=True, width="stretch", key=key, column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
        "val acc": st.column_config.NumberColumn("val acc", format="percent"),
        "test acc": st.column_config.NumberColumn("test acc", format="percent"),
    })  # fmt: skip


# ---------------------------------------------------------------- an exercise


def results_frame(result: ExperimentResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "variant": v.name, "test accuracy": percent(v.mean, v.std),
        "per seed": ", ".join(f"{a * 100:.1f}" for a in v.test_acc),
        "test loss": f"{v.loss_mean:.3f}" + ("" if v.loss_std is None else f" ± {v.loss_std:.3f}"),
        "parameters": v.params, "MACs": v.macs, "seconds per run": round(v.seconds, 1),
    } for v in result.variants])  # fmt: skip


def accuracy_figure(result: ExperimentResult) -> go.Figure:
    """Mean test accuracy ± one sample standard deviation per variant, with every seed as a point."""
    fig = go.Figure()
    for i, v in enumerate(result.variants):
        colour = class_colour(i)
        fig.add_scatter(x=[v.name] * len(v.test_acc), y=[a * 100 for a in v.test_acc], mode="markers",
                        marker=dict(color=colour, size=8, opacity=0.55, symbol="circle-open"), showlegend=False,
                        hovertemplate="%{x}, one seed: %{y:.1f} %<extra></extra>")  # fmt: skip
        fig.add_scatter(x=[v.name], y=[v.mean * 100], mode="markers", marker=dict(color=colour, size=15,
                        symbol="line-ew-open", line=dict(width=3)), showlegend=False,
                        error_y=dict(type="data", array=[(v.std or 0) * 100], thickness=2, width=12),
                        hovertemplate="%{x}: mean %{y:.1f} %<extra></extra>")  # fmt: skip
    fig.update_yaxes(title_text="test accuracy (%)")
    return compact(fig, 340, title="Test accuracy: mean ± std over seeds, each seed a point")


def curve_band(histories: list[list[dict]], metric: str = "val_acc") -> tuple[list[int], list[float], list[float]]:
    """Epochs, mean and sample std of a metric over runs (an epoch counts the runs that reached it)."""
    epochs = sorted({h["epoch"] for hist in histories for h in hist})
    means, stds = [], []
    for e in epochs:
        values = [h[metric] for hist in histories for h in hist if h["epoch"] == e]
        means.append(mean(values))
        stds.append(sample_std(values) or 0.0)
    return epochs, means, stds


def curves_figure(cfg: ExperimentConfig, states) -> go.Figure:
    """Validation accuracy per epoch, each variant's mean over its seeds with a ± std band."""
    fig = go.Figure()
    for i, v in enumerate(cfg.variants()):
        histories = [s.history for s in states if s.trial.label == v.name and s.history]
        if not histories:
            continue
        x, m, sd = curve_band(histories)
        colour = class_colour(i)
        upper, lower = [100 * (a + b) for a, b in zip(m, sd)], [100 * (a - b) for a, b in zip(m, sd)]
        fig.add_scatter(x=x + x[::-1], y=upper + lower[::-1], fill="toself", fillcolor=colour, opacity=0.18,
                        line=dict(width=0), hoverinfo="skip", showlegend=False)  # fmt: skip
        fig.add_scatter(x=x, y=[100 * a for a in m], mode="lines+markers", name=v.name, line=dict(color=colour),
                        hovertemplate=f"{v.name}, epoch %{{x}}: %{{y:.1f}} %<extra></extra>")  # fmt: skip
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="validation accuracy (%)")
    return compact(fig, 340, title="Validation accuracy per epoch: mean over seeds, band ± std",
                   legend=dict(orientation="h", y=-0.25))  # fmt: skip


def comparisons_frame(result: ExperimentResult) -> pd.DataFrame:
    """Each variant against the baseline: the difference, its 95 % interval, the p-value before and after Holm."""
    return pd.DataFrame([{
        "variant": c.other, "against": c.baseline, "difference": signed_points(c.difference),
        "95 % CI (points)": ci_text(c), "p": c.p, "p after Holm": c.p_adjusted,
        "verdict": {"better": "better", "worse": "worse"}.get(c.outcome, "no clear difference"),
    } for c in result.comparisons])  # fmt: skip


VERDICT_HELP = (
    "How the verdict is reached: each seed trains every variant on the same images, so each seed gives one "
    "difference. A paired t-test asks whether those differences are too consistent to be the luck of the "
    "starting weights; a difference is claimed only when its p-value is below 5 % (after Holm's correction "
    "when several variants face one baseline). The 95 % CI is the range of true differences the seeds allow: "
    "when it spans 0, more seeds are needed to say. One seed, or the same difference at every seed, gives no "
    "verdict at all."
)


def draw_experiment(cfg: ExperimentConfig, result: ExperimentResult, states) -> None:
    main = result.main
    show = st.success if main.outcome != "unclear" else st.info
    show(f"**{result.answer}**")
    st.markdown(f"**Verdict.** {result.verdict}")
    st.markdown(result.loss_verdict)
    st.caption(VERDICT_HELP)
    st.dataframe(comparisons_frame(result), hide_index=True, width="stretch", key="exp_comparisons_table",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in ("p", "p after Holm")})
    st.dataframe(results_frame(result), hide_index=True, width="stretch", key="exp_results_table",
                 column_config={c: st.column_config.NumberColumn(c, format="localized") for c in COUNTS})
    left, right = st.columns(2)
    with left:
        st.plotly_chart(accuracy_figure(result), key="exp_accuracy_chart")
    with right:
        st.plotly_chart(curves_figure(cfg, states), key="exp_curves_chart")


# ---------------------------------------------------------------- a sweep


def _axis(name: str, values: list) -> dict:
    """One parallel-coordinates axis: choices as ticks, wide positive ranges on a log10 scale."""
    if any(isinstance(v, (str, bool)) for v in values):
        choices = list(dict.fromkeys(values))
        return dict(label=name, values=[choices.index(v) for v in values], tickvals=list(range(len(choices))),
                    ticktext=[str(c) for c in choices])  # fmt: skip
    positive = [v for v in values if v > 0]
    if len(positive) == len(values) and max(values) / min(values) >= 100:
        return dict(label=f"{name} (log10)", values=[math.log10(v) for v in values])
    return dict(label=name, values=values)


def parallel_figure(rows: list[dict], names: list[str]) -> go.Figure:
    done = [r for r in rows if r["val_acc"] is not None]
    dims = [_axis(n, [r[n] for r in done]) for n in names]
    dims += [dict(label="val acc (%)", values=[100 * r["val_acc"] for r in done], range=[0, 100]),
             dict(label="test acc (%)", values=[100 * r["test_acc"] for r in done], range=[0, 100])]  # fmt: skip
    line = dict(color=[100 * r["val_acc"] for r in done], colorscale="Viridis", showscale=True,
                colorbar=dict(title="val acc"))  # fmt: skip
    fig = compact(go.Figure(go.Parcoords(dimensions=dims, line=line)), 400,
                  title="Every finished trial: its settings and its accuracy")
    return fig.update_layout(margin=dict(l=70, r=40, t=100, b=30))  # room for the axis names and ticks


def scatter_figure(rows: list[dict], names: list[str]) -> go.Figure:
    done = [r for r in rows if r["val_acc"] is not None]
    fig = make_subplots(1, 2, subplot_titles=("against parameters", "against training time"), shared_yaxes=True)
    text = [f"trial {r['trial']}: {describe({n: r[n] for n in names})}" for r in done]
    for col, x in ((1, [r["params"] for r in done]), (2, [r["seconds"] for r in done])):
        fig.add_scatter(x=x, y=[100 * r["val_acc"] for r in done], mode="markers", text=text, row=1, col=col,
                        marker=dict(size=10, color=[100 * r["val_acc"] for r in done], colorscale="Viridis"),
                        hovertemplate="%{text}<br>val acc %{y:.1f} %, x %{x:,.3~g}<extra></extra>",
                        showlegend=False)  # fmt: skip
    fig.update_xaxes(type="log", title_text="parameters", row=1, col=1)
    fig.update_xaxes(title_text="seconds of training", row=1, col=2)
    fig.update_yaxes(title_text="validation accuracy (%)", row=1, col=1)
    return compact(fig, 340, title="Validation accuracy against cost")


def sweep_frame(rows: list[dict], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{"trial": r["trial"], **{n: r[n] for n in names}, "state": STATE_LABELS[r["state"]],
                          "val acc": r["val_acc"], "test acc": r["test_acc"], "parameters": r["params"],
                          "seconds": None if r["seconds"] is None else round(r["seconds"], 1)}
                         for r in rows])  # fmt: skip


def draw_sweep(rows: list[dict], names: list[str], best: dict | None) -> None:
    st.dataframe(sweep_frame(rows, names), hide_index=True, width="stretch", key="sweep_table", column_config={
        "val acc": st.column_config.NumberColumn("val acc", format="percent"),
        "test acc": st.column_config.NumberColumn("test acc", format="percent"),
        "parameters": st.column_config.NumberColumn("parameters", format="localized"),
    })  # fmt: skip
    if best is None:
        return
    st.success(f"**Best: trial {best['trial']}** ({describe({n: best[n] for n in names})}): validation accuracy "
               f"**{best['val_acc']:.1%}**, test accuracy {best['test_acc']:.1%}. Chosen on validation accuracy: "
               "choosing on the test images would tune the model to them.")  # fmt: skip
    caveat = best_caveat(rows, best)
    if caveat:
        st.caption(f"Validation accuracy {best['val_acc']:.1%}: {caveat}")
    if sum(r["val_acc"] is not None for r in rows) >= 2:
        st.plotly_chart(parallel_figure(rows, names), key="sweep_parallel")
        st.plotly_chart(scatter_figure(rows, names), key="sweep_scatter")


# ---------------------------------------------------------------- use the best

ARCH_BLOCK_FIELDS = ("num_blocks", "kernel_size", "downsample", "downsample_last", "batch_norm", "activation",
                     "dropout", "head_pool", "hidden", "head_dropout")  # the Architecture page's block widgets


def send_to_pages(design: BlockDesign, train: TrainConfig, data: DataConfig) -> None:
    """Make this the session's dataset, the Architecture page's network and the Training page's settings."""
    ss = st.session_state
    ds = build_dataset(data)
    spec = design.to_spec(ds.input_shape, ds.num_classes)
    widgets = {f"arch_{f}": getattr(design, f) for f in ARCH_BLOCK_FIELDS}
    widgets |= {f"arch_ch_{i}": c for i, c in enumerate(design.channels)}
    widgets["arch_mode"] = "blocks"
    ss["arch_saved"] = {**ss.get("arch_saved", {}), **widgets}
    ss.update(widgets)
    ss["arch_current"] = ss["arch_table_base"] = ss["model_spec"] = spec
    ss["arch_table_version"] = ss.get("arch_table_version", 0) + 1
    ss["arch_io"] = (ds.input_shape, ds.num_classes)
    values = train.to_dict()
    ss["train_values"] = values
    ss["tr_defaults_for"] = data.key()
    ss.update({f"tr_{k}": v for k, v in values.items()})
