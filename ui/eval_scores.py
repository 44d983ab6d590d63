"""The Evaluation page's scores: the summary, the confusion matrix, the per-class report, the most confident
mistakes, the embedding and the training curves. Each draw_* function only renders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnn_core.data.dataset import ImageDataset
from cnn_core.inspection import evaluate as ev_core
from cnn_core.inspection.evaluate import Evaluation
from cnn_core.nets.summary import summarize
from cnn_core.study.significance import wilson
from cnn_core.training.run import TrainedRun
from ui import curves
from ui.echo import plain
from ui.plots import class_colour, compact, display_scale, tile
from ui.static_table import bar, draw_table, table_html


def draw_summary(run: TrainedRun, ev: Evaluation, rep: ev_core.Report) -> None:
    cols = st.columns(5)
    cols[0].metric(f"Accuracy on {ev.split}", f"{rep.accuracy:.1%}", help="Share of held-out images classified correctly.")
    cols[1].metric("Images evaluated", len(ev.labels))
    cols[2].metric("Mistakes", int((ev.preds != ev.labels).sum()))
    acc = run.summary.get("val_acc")
    cols[3].metric("Val accuracy in training", f"{acc:.1%}" if isinstance(acc, (int, float)) else "–")
    cols[4].metric("Parameters", f"{summarize(run.spec).total_params:,}",
                   help="Trainable weights and biases, as the Architecture page counts them (batch-norm running "
                   "statistics are stored too, but not learned).")
    right, n = int((ev.preds == ev.labels).sum()), len(ev.labels)
    if n:
        low, high = wilson(right, n)
        st.caption(f"{right} of {n} right: on new images like these, the accuracy is likely between {low:.1%} and "
                   f"{high:.1%} (95 % Wilson interval). The {ev.split} images are a sample: fewer images, a wider "
                   "range.")  # fmt: skip


def draw_confusion(ev: Evaluation, normalise: bool) -> None:
    st.caption("Each row is a true class, each column what the model said. A perfect model fills only the "
               "diagonal; a dark cell off it is a pair of classes the model confuses.")  # fmt: skip
    k = len(ev.classes)
    matrix = ev_core.confusion(ev.labels, ev.preds, k, normalize=normalise)
    frame = pd.DataFrame(matrix if normalise else matrix.astype(int), columns=list(ev.classes),
                         index=pd.Index(ev.classes, name="true ↓ · said →"))
    top = float(matrix.max()) or 1.0
    # One static HTML table, shaded as a heatmap: no chart library, and no markdown renderer per cell (st.table's).
    shown = "{:.0%}" if normalise else "{:d}"
    html = table_html(frame, style=lambda i, j, v: shade(v / top), formats=dict.fromkeys(frame.columns, shown.format),
                      label="Confusion matrix: rows are the true classes, columns the model's answers")
    draw_table(html, key="ev_confusion")


def shade(share: float) -> str:
    """The CSS of a cell holding `share` of the table's largest value: white to dark blue, dark text on light."""
    light, dark = np.array([247, 251, 255]), np.array([8, 48, 107])  # the ends of Plotly's and ColorBrewer's "Blues"
    r, g, b = (light + (dark - light) * min(max(share, 0.0), 1.0)).round().astype(int)
    return f"background-color: rgb({r}, {g}, {b}); color: {'white' if share > 0.5 else 'black'}"


def draw_report(rep: ev_core.Report) -> None:
    st.caption("Precision: of the images the model called this class, the share that were. Recall: of the "
               "images of this class, the share it found. F1 balances the two; support counts the images.")  # fmt: skip
    # A static HTML table rather than a data grid: it wraps and grows with presenting mode's large type instead of
    # clipping its headers, and a class name (a user's folder name) is shown as the text it is.
    table = pd.DataFrame(rep.rows()).set_index("class")
    shares = ["precision", "recall", "f1"]
    html = table_html(table, style=lambda i, j, v: bar(v) if table.columns[j] in shares else "",
                      formats=dict.fromkeys(shares, "{:.2f}".format), label="Precision, recall and F1 per class")
    draw_table(html, key="ev_report_table")


def draw_mistakes(ds: ImageDataset, ev: Evaluation, limit: int) -> None:
    st.caption("The model's most confident wrong answers first. Look for a pattern: the same two classes, "
               "images a person would also get wrong, or a feature (a colour, a position) it relies on.")  # fmt: skip
    wrong = ev_core.mistakes(ev, limit)
    if not wrong:
        st.success("No mistakes on these images: every one is classified correctly.")
        return
    per_row = 6
    scale = display_scale(ds.input_shape[1], 96)
    for start in range(0, len(wrong), per_row):
        for col, m in zip(st.columns(per_row), wrong[start : start + per_row]):
            col.image(tile(ds.images[m.index], scale))  # a transparent margin: rounded corners clip no pixel
            col.caption(f"{ev.name(m.position)}: a **{plain(ev.classes[m.true])}**  \nsaid **{plain(ev.classes[m.predicted])}** "
                        f"({m.confidence:.0%} sure)")


def draw_embedding(ev: Evaluation, coords: np.ndarray, positions: np.ndarray, method: str) -> None:
    sampled = len(positions) < len(ev.labels)
    st.caption("Each dot is one held-out image, placed by the features the last layer reads. Well-separated "
               "clusters mean the classes are easy to tell apart at that point; crosses are mistakes."
               + (f" Showing a random {len(positions):,} of the {len(ev.labels):,} images." if sampled else ""))
    labels, preds = ev.labels[positions], ev.preds[positions]
    fig = go.Figure()
    for k, name in enumerate(ev.classes):
        for wrong in (False, True):
            sel = (labels == k) & ((preds != labels) == wrong)
            if not sel.any():
                continue
            fig.add_scatter(x=coords[sel, 0], y=coords[sel, 1], mode="markers", name=name + (" (mistake)" * wrong),
                            legendgroup=name,
                            marker=dict(color=class_colour(k), symbol="x" if wrong else "circle", size=9 if wrong else 6),
                            customdata=np.column_stack([positions[sel], [ev.classes[p] for p in preds[sel]]]),
                            hovertemplate=ev.name("%{customdata[0]}") + ": " + name
                            + ", predicted %{customdata[1]}<extra></extra>")
    axis = "PCA" if method == "pca" else "t-SNE"
    fig.update_layout(xaxis_title=f"{axis} 1", yaxis_title=f"{axis} 2", legend_title="true class")
    st.plotly_chart(compact(fig, 420), key="ev_embedding_chart")


def draw_curves(history: list[dict[str, float]]) -> None:
    st.caption("How the loss fell and the accuracy rose while training. Validation far worse than training "
               "means the model memorised its training images (overfitting).")  # fmt: skip
    if not history:
        st.info("This run has no training history to show.")
        return
    curves.draw_curves({"this run": history}, key="ev_curves_chart")
