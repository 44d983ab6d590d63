"""Training curves, one look everywhere: loss, accuracy and learning rate per epoch, for one run or several."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ui.plots import compact

TRAIN_COLOUR, VAL_COLOUR, LR_COLOUR = "#1f77b4", "#ff7f0e", "#2ca02c"
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
PANELS = (("loss", "Loss"), ("acc", "Accuracy"), ("lr", "Learning rate"))  # short: three fit side by side on a phone
FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


def curves_figure(histories: dict[str, list[dict]], epochs: int | None = None, log_loss: bool = False) -> go.Figure:
    """Each run's per-epoch records as lines: training dashed, validation solid.

    One run: training blue, validation orange. Several: one colour per run, named in the legend, so
    the learner can compare them (a gap between training and validation is overfitting).
    """
    fig = make_subplots(1, 3, subplot_titles=[title for _, title in PANELS], horizontal_spacing=0.07)
    single = len(histories) == 1
    for r, (name, history) in enumerate(histories.items()):
        x = [h["epoch"] for h in history]
        colour = RUN_COLOURS[r % len(RUN_COLOURS)]
        for col, metric in ((1, "loss"), (2, "acc")):
            for split in ("train", "val"):
                label = ("training" if split == "train" else "validation") if single else f"{name}, {split}"
                fig.add_scatter(x=x, y=[h[f"{split}_{metric}"] for h in history], mode="lines+markers", row=1, col=col,
                                name=label, legendgroup=label if single else name, showlegend=col == 1,
                                line=dict(color=(TRAIN_COLOUR if split == "train" else VAL_COLOUR) if single else colour,
                                          dash="dash" if split == "train" and not single else None))  # fmt: skip
        fig.add_scatter(x=x, y=[h["lr"] for h in history], mode="lines+markers", row=1, col=3,
                        name="learning rate" if single else name, legendgroup=name, showlegend=False,
                        line=dict(color=LR_COLOUR if single else colour, shape="hv"))  # fmt: skip
    fig.update_xaxes(title_text="epoch", row=1, col=2)  # one title in the middle for all three, clear of the legend
    if epochs:
        fig.update_xaxes(range=[0.5, epochs + 0.5])
    if log_loss:
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_layout(legend=dict(orientation="h", y=-0.32, yanchor="top", x=1, xanchor="right"))
    return compact(fig, 320 + 20 * max(0, len(histories) - 2))


@st.cache_resource(max_entries=64, show_spinner=False)
def _shared_figure(points: tuple, epochs: int | None, log_loss: bool) -> go.Figure:
    """The figure for these points, built once for every session watching the same run, not at each rerun of each
    (a live view reruns up to once a second per viewer; building the figure cost about 25 ms each time)."""
    histories = {name: [dict(zip(FIELDS, row)) for row in rows] for name, rows in points}
    return curves_figure(histories, epochs, log_loss)


def draw_curves(histories: dict[str, list[dict]], key: str, epochs: int | None = None) -> None:
    """The curves with a log-scale switch for the loss, so a blow-up doesn't flatten the rest."""
    if not any(histories.values()):
        st.info("No epoch has finished yet: the curves start after the first one.")
        return
    log_loss = st.toggle("Log scale for the loss", key=f"{key}_log",
                         help="A loss that blew up to millions squashes every other point against zero on a "
                         "linear axis; a log axis shows them all.")  # fmt: skip
    points = tuple((name, tuple(tuple(h[f] for f in FIELDS) for h in history)) for name, history in histories.items())
    st.plotly_chart(_shared_figure(points, epochs, log_loss), key=key)
