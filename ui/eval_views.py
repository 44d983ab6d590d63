"""The Evaluation page's run pickers, caches and charts: each draw_* function only renders."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from streamlit.errors import StreamlitAPIException

from cnn_core.data.dataset import ImageDataset
from cnn_core.inspection import evaluate as ev_core
from cnn_core.inspection import interpret
from cnn_core.inspection.evaluate import Evaluation
from cnn_core.nets.shapes import infer_shapes, shape_text
from cnn_core.nets.summary import summarize
from cnn_core.training.run import TrainedRun
from ui import curves
from ui.plots import class_colour, compact, display_scale, tile, to_display

MODEL = "eval_model"  # session key: ((run key, device), the built model), so reruns don't rebuild it
OVERLAY_SCALE = "Jet"
TSNE_MAX = 2000  # t-SNE's time grows faster than the number of images: a sample keeps the page responsive


# ---------------------------------------------------------------- runs and caches


def run_key(run: TrainedRun) -> str:
    """What the per-run caches are keyed by: the run id (two runs of one configuration differ there) and the data."""
    return f"{run.run_id}:{run.data_config.key()}"


def run_label(run: TrainedRun, number: int) -> str:
    """E.g. 'Run 2: 3 conv layers on shapes (circle, square…), val acc 94%'."""
    convs = sum(lay.type == "conv2d" for lay in run.spec.layers)
    classes = ", ".join(run.data_config.classes[:3]) + ("…" if len(run.data_config.classes) > 3 else "")
    acc = run.summary.get("val_acc")
    acc_text = f", val acc {acc:.0%}" if isinstance(acc, (int, float)) else ""
    return f"Run {number}: {convs} conv layer{'s' * (convs != 1)} on {run.data_config.dataset} ({classes}){acc_text}"


def differing_settings(configs: list[dict]) -> list[str]:
    """The training settings whose values are not the same in every one of these configs, in their order."""
    names = dict.fromkeys(name for config in configs for name in config)
    return [n for n in names if len({repr(config.get(n)) for config in configs}) > 1]


def _setting(name: str, value) -> str:
    """E.g. 'lr 0.003', 'optimizer sgd', 'hflip on'."""
    text = ("on" if value else "off") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else value
    return f"{name.replace('_', ' ')} {text}"


def cache_labels(entries: list[dict], me: str) -> list[str]:
    """One label per registry entry that tells it from the others: the dataset, the training settings that differ
    between the entries, the validation accuracy, the status, then whose ('you' for this session's label `me`)
    and when. E.g. 'shapes, lr 0.01, seed 1, val acc 81%, completed · you, 25 Nov 14:02 UTC'."""
    differing = differing_settings([e.get("train_config") or {} for e in entries])
    labels = []
    for e in entries:
        when = datetime.fromtimestamp(e["saved"], timezone.utc).strftime("%d %b %H:%M UTC")
        whose = "you" if me and e.get("who") == me else (e.get("who") or "unknown")
        settings = [_setting(n, (e.get("train_config") or {}).get(n)) for n in differing]
        acc = e.get("val_acc")
        parts = [e.get("dataset", "?"), *settings, f"val acc {acc:.0%}" if isinstance(acc, (int, float)) else None,
                 e.get("status") or "completed"]  # fmt: skip
        labels.append(", ".join(p for p in parts if p) + f" · {whose}, {when}")
    return labels


def cache_details(entry: dict) -> str:
    """The chosen registry entry's network and length, e.g. '19 layers, 619,268 parameters, 10 epochs run'."""
    return (f"{entry.get('layers', '?')} layers, {entry.get('params') or 0:,} parameters, "
            f"{entry.get('epochs_run', '?')} epochs run")


STATUS_NOTES = {"diverged": "This run **diverged**", "stopped": "This run was **stopped** before it finished",
                "unstable": "This run is **unstable**, it barely learned"}  # fmt: skip


def status_note(run: TrainedRun) -> str | None:
    """A warning for a run that did not end well (diverged, stopped, unstable), naming why; None otherwise."""
    status = run.summary.get("status", "completed")
    if status not in STATUS_NOTES:
        return None
    reason = run.summary.get("reason") or "no reason was recorded"
    return (f"{STATUS_NOTES[status]}: {reason}. The scores below are those of the weights it kept, not of a "
            "model that finished training.")


def cached_run_ui(entries: list[dict], cache, me: str) -> TrainedRun | None:
    """A run from the server's run registry, newest first (trained by any session; `me`: this session's label)."""
    labels = cache_labels(entries, me)
    i = st.selectbox("Run on this server", range(len(entries)), key="ev_cached", format_func=labels.__getitem__,
                             help="Every finished training on this server is kept (the oldest go when the store is "
                             "full): when, by whom ('you' is this session; others are anonymous), the settings that "
                             "differ between the runs, and how it ended.")  # fmt: skip
    st.caption(cache_details(entries[i]))
    run = cache.get_run(entries[i]["run_id"])
    if run is None:
        st.warning("That run's checkpoint could not be read; it is skipped from now on.")
    return run


def friendly_stop(message: str) -> None:
    st.info(message)
    try:
        st.page_link("app_pages/training.py", label="Go to the Training page", icon=":material/model_training:")
    except StreamlitAPIException:  # the router does not list the Training page (yet)
        st.caption("Open the **Training** page from the menu on the left.")
    st.stop()


def session_model(run: TrainedRun, device) -> object:
    """The run's model on the device, built once per session and run (Grad-CAM hooks it: not shared)."""
    ident = (run_key(run), str(device))
    held = st.session_state.get(MODEL)
    if held is None or held[0] != ident:
        held = (ident, run.build(device))
        st.session_state[MODEL] = held
    return held[1]


@st.cache_data(max_entries=8, show_spinner="Running the model over the held-out images…")
def evaluation(key: str, _model, _ds: ImageDataset) -> Evaluation:
    return ev_core.evaluate(_model, _ds)


@st.cache_data(max_entries=8, show_spinner="Computing the 2-D map (t-SNE takes a few seconds)…")
def embedding(key: str, method: str, _features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates, and the positions in the evaluated split they belong to (t-SNE: a sample of a large split)."""
    positions = np.arange(len(_features))
    if method == "tsne" and len(positions) > TSNE_MAX:
        positions = np.sort(np.random.default_rng(0).choice(len(positions), TSNE_MAX, replace=False))
    return ev_core.embed(_features[positions], method), positions


@st.cache_data(max_entries=64, show_spinner=False)
def explanation(key: str, image_id: str, target: int, layer: int, _model, _image: np.ndarray):
    """Grad-CAM at `layer` and saliency for one image and class."""
    return interpret.grad_cam(_model, _image, target, layer), interpret.saliency(_model, _image, target)


@st.cache_data(max_entries=32, show_spinner=False)
def block_maps(key: str, image_id: str, layers: tuple[int, ...], _model, _image: np.ndarray) -> list[np.ndarray]:
    return interpret.feature_maps(_model, _image, layers)


def probabilities(model, image: np.ndarray) -> np.ndarray:
    return ev_core.predict(model, image[None])[0]


def image_layers(run: TrainedRun) -> list[int]:
    """Indices of the layers whose output is still an image (C, H, W): where Grad-CAM can look."""
    return [i for i, shape in enumerate(infer_shapes(run.spec)) if len(shape) == 3]


def input_shape(run: TrainedRun, index: int) -> tuple[int, ...]:
    """The shape a layer of the run's network receives."""
    return tuple(run.spec.input) if index == 0 else infer_shapes(run.spec)[index - 1]


def describe_layer(run: TrainedRun, index: int) -> str:
    """E.g. 'layer 2: relu → 16×8×8'."""
    shape = infer_shapes(run.spec)[index]
    return f"layer {index}: {run.spec.layers[index].describe()} → {shape_text(shape)}"


# ---------------------------------------------------------------- image helpers


def mosaic(tiles: np.ndarray, cols: int, fill: float = np.nan) -> np.ndarray:
    """(N, h, w[, 3]) tiles laid out in a grid, one pixel of `fill` between them."""
    n, h, w = tiles.shape[:3]
    rows = -(-n // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1, *tiles.shape[3:]), fill, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tiles[k]
    return out


def _rgb(image: np.ndarray) -> np.ndarray:
    """A (C, H, W) image in [0, 1] as (H, W, 3) uint8, grey images repeated over the three channels."""
    arr = to_display(image)
    return np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr


def _bare_axes(fig: go.Figure) -> go.Figure:
    """No ticks, labels or grid: for pictures."""
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    return fig


def _tile_heatmap(tiles: np.ndarray, labels: list[str], cols: int, signed: bool, height: int) -> go.Figure:
    """Many small 2-D maps as one heatmap (fast to draw); hovering names the tile."""
    z = mosaic(tiles, cols)
    names = np.array([""] + labels, dtype=object)
    which = mosaic(np.arange(1, len(tiles) + 1, dtype=np.float32)[:, None, None] * np.ones(tiles.shape[1:3]), cols, 0)
    kwargs = dict(colorscale="Viridis", zmin=0)
    if signed:
        bound = float(np.nanmax(np.abs(z))) or 1.0
        kwargs = dict(colorscale="RdBu", reversescale=True, zmid=0, zmin=-bound, zmax=bound)
    fig = go.Figure(go.Heatmap(z=z, customdata=names[which.astype(int)], hoverongaps=False,
                               hovertemplate="%{customdata}: %{z:.3f}<extra></extra>", **kwargs))  # fmt: skip
    _bare_axes(fig)
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return compact(fig, height)


# ---------------------------------------------------------------- sections


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


def draw_confusion(ev: Evaluation, normalise: bool) -> None:
    st.caption("Each row is a true class, each column what the model said. A perfect model fills only the "
               "diagonal; a bright cell off it is a pair of classes the model confuses.")  # fmt: skip
    k = len(ev.classes)
    matrix = ev_core.confusion(ev.labels, ev.preds, k, normalize=normalise)
    text = [[f"{v:.0%}" if normalise else str(int(v)) for v in row] for row in matrix]
    fig = go.Figure(go.Heatmap(z=matrix, x=list(ev.classes), y=list(ev.classes), text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1 if normalise else None,
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))  # fmt: skip
    fig.update_yaxes(autorange="reversed", title="true class", type="category")
    fig.update_xaxes(title="predicted class", type="category", side="top")
    st.plotly_chart(compact(fig, 120 + 36 * k), key="ev_confusion_chart")


def draw_report(rep: ev_core.Report) -> None:
    st.caption("Precision: of the images the model called this class, the share that were. Recall: of the "
               "images of this class, the share it found. F1 balances the two; support counts the images.")  # fmt: skip
    table = pd.DataFrame(rep.rows()).set_index("class")
    share = st.column_config.ProgressColumn(format="%.2f", min_value=0.0, max_value=1.0, width="small")
    st.dataframe(table, column_config={"precision": share, "recall": share, "f1": share,
                                       "support": st.column_config.NumberColumn(width="small")},
                 key="ev_report_table")  # fmt: skip


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
            col.caption(f"{ev.name(m.position)}: a **{ev.classes[m.true]}**  \nsaid **{ev.classes[m.predicted]}** "
                        f"({m.confidence:.0%} sure)")


def draw_filters(weights: np.ndarray, layer_text: str, in_channel: int | None, rgb: bool) -> None:
    st.caption("Each tile is one filter: the pattern that makes its output largest. First-layer filters of a "
               "colour model are shown as colours (grey is 0); look for edges, blobs and colour detectors.")  # fmt: skip
    n = len(weights)
    cols = min(n, 16)
    if rgb and in_channel is None:
        patches = mosaic(interpret.filter_patches(weights), cols, fill=1.0)
        fig = _bare_axes(go.Figure(go.Image(z=(patches * 255).astype(np.uint8), hoverinfo="skip")))
        st.plotly_chart(compact(fig, 90 + 60 * -(-n // cols), title=layer_text), key="ev_filters_chart")
        return
    tiles = weights.mean(axis=1) if in_channel is None else weights[:, in_channel]
    labels = [f"filter {k}" for k in range(n)]
    fig = _tile_heatmap(tiles, labels, cols, signed=True, height=90 + 60 * -(-n // cols))
    st.plotly_chart(fig.update_layout(title=layer_text), key="ev_filters_chart")


def draw_feature_maps(run: TrainedRun, blocks: list[int], maps: list[np.ndarray], per_block: int,
                      image: np.ndarray) -> None:
    st.caption("What each conv block outputs for this image, its most active channels first. Early blocks keep "
               "the picture (edges, colours); later ones are smaller and respond to larger, more abstract parts. "
               "Bright means a strong response; the colour bar gives the values.")  # fmt: skip
    for b, (index, fmap) in enumerate(zip(blocks, maps)):
        order = np.argsort(-fmap.mean(axis=(1, 2)), kind="stable")[:per_block]
        c, h, w = fmap.shape
        st.markdown(f"**Block {b + 1}** ({describe_layer(run, index)}): showing {len(order)} of {c} maps of {h}×{w}")
        left, right = st.columns([1, 5])
        left.image(tile(image, display_scale(image.shape[1], 128)),
                   caption=f"the input, {image.shape[1]}×{image.shape[2]}")
        cols = min(len(order), 8)
        fig = _tile_heatmap(fmap[order], [f"channel {k}" for k in order], cols, signed=fmap.min() < 0,
                            height=60 + 110 * -(-len(order) // cols))  # fmt: skip
        right.plotly_chart(fig, key=f"ev_fmap_chart_{b}")


def draw_explanation(image: np.ndarray, cam: np.ndarray, sal: np.ndarray, title: str, key: str) -> None:
    """The image, Grad-CAM over it, and the saliency map, side by side."""
    fig = make_subplots(1, 3, subplot_titles=("image", "Grad-CAM over the image", "saliency"), horizontal_spacing=0.04)
    rgb = _rgb(image)
    fig.add_trace(go.Image(z=rgb, hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Image(z=rgb, hoverinfo="skip"), 1, 2)
    fig.add_trace(go.Heatmap(z=cam, zmin=0, zmax=1, colorscale=OVERLAY_SCALE, opacity=0.5,
                             colorbar=dict(title="evidence", x=0.645, thickness=10, len=0.8),
                             hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"), 1, 2)  # fmt: skip
    fig.add_trace(go.Heatmap(z=sal, zmin=0, zmax=1, colorscale="Hot",
                             colorbar=dict(title="effect", x=1.0, thickness=10, len=0.8),
                             hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"), 1, 3)  # fmt: skip
    _bare_axes(fig)
    for col in (1, 2, 3):
        fig.update_xaxes(range=[-0.5, image.shape[2] - 0.5], row=1, col=col)
        fig.update_yaxes(autorange=False, range=[image.shape[1] - 0.5, -0.5],
                         scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)  # fmt: skip
    st.plotly_chart(compact(fig, 330, title=title).update_layout(margin_t=80), key=key)


def draw_probabilities(probs: np.ndarray, classes: tuple[str, ...], key: str) -> None:
    order = list(range(len(classes)))
    fig = go.Figure(go.Bar(x=[classes[k] for k in order], y=probs[order], marker_color=[class_colour(k) for k in order],
                           text=[f"{p:.0%}" for p in probs[order]], textposition="outside"))  # fmt: skip
    fig.update_layout(yaxis=dict(title="probability", range=[0, 1.1], tickformat=".0%"), xaxis=dict(type="category"))
    st.plotly_chart(compact(fig, 260, title="class probabilities"), key=key)


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
