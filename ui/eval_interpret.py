"""The Evaluation page's look inside the network: the layers it can look at, its filters, what each block sees
(feature maps), and which pixels decided an answer (Grad-CAM, saliency, class probabilities). Each draw_* function
only renders."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from cnn_core.inspection import interpret
from cnn_core.inspection.evaluate import Evaluation
from cnn_core.inspection.interpret import conv_blocks
from cnn_core.nets.shapes import infer_shapes, shape_text
from cnn_core.training.run import TrainedRun
from ui.plots import class_colour, compact, display_scale, tile, to_display

OVERLAY_SCALE = "Jet"


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


def explain_ui(run: TrainedRun, ev: Evaluation, pos: int) -> tuple[int, int]:
    """The class to explain (-1: the predicted one) and the layer Grad-CAM looks at."""
    left, right = st.columns(2)
    predicted = f"the class it predicts ({ev.classes[ev.preds[pos]]})"
    target = left.selectbox("Explain the class", [-1, *range(len(ev.classes))], key="ev_cam_class",
                            format_func=lambda k: predicted if k < 0 else ev.classes[k],
                            help="Grad-CAM shows where the network found evidence for this class.")  # fmt: skip
    layers = image_layers(run)
    default = layers.index(conv_blocks(run.spec)[-1])
    layer = right.selectbox("At layer", layers, index=default, key="ev_cam_layer",
                            format_func=lambda i: describe_layer(run, i),
                            help="Late layers see whole parts but coarsely; early layers are sharp but see "
                            "only small patches. The last conv block is the usual choice.")  # fmt: skip
    return target, layer


def filter_ui(run: TrainedRun) -> tuple[int, int | None, bool]:
    """The conv layer whose filters to show, one input channel (None: all), and whether they read RGB pixels."""
    convs = [i for i, lay in enumerate(run.spec.layers) if lay.type == "conv2d"]
    left, right = st.columns(2)
    layer = left.selectbox("Conv layer", convs, key="ev_filter_layer", format_func=lambda i: describe_layer(run, i),
                           help="The first conv layer looks at the pixels; later ones at the maps before them.")
    in_channels = input_shape(run, layer)[0]
    rgb = in_channels == 3 and layer == convs[0]
    if in_channels == 1:
        return layer, None, False
    channel = right.selectbox("Input channel", [None, *range(in_channels)], key=f"ev_filter_channel_{layer}",
                              format_func=lambda c: ("as colours" if rgb else f"average of all {in_channels}")
                              if c is None else f"channel {c}",
                              help="A filter has one slice per input channel. Show one slice, or all together.")  # fmt: skip
    return layer, channel, rgb
