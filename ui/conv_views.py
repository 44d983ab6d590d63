"""Drawing for the Convolution page: input, kernel and feature maps, the sliding window, channels, pooling."""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from plotly.subplots import make_subplots

from cnn_core.conv.ops import ConvStep, output_length
from ui.plots import CHANNEL_NAMES, compact, heatmap, tile, to_display

WINDOW_COLOUR = "#00e5ff"


def _png_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 array as a PNG data URI: far lighter in a figure than a grid of numbers."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_figure(image: np.ndarray, title: str, height: int = 320) -> go.Figure:
    """A (C, H, W) image in [0, 1]: colour as a picture, one channel as a grey heatmap with values on hover."""
    if image.shape[0] == 1:
        fig = heatmap(np.round(image[0], 3), title, zmin=0, zmax=1)
        fig.update_traces(hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>")
        return compact(fig, height)
    fig = go.Figure(go.Image(source=_png_uri(to_display(image)), hoverinfo="x+y"))
    fig.update_yaxes(scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    return compact(fig, height, title=title)


def map_figure(values: np.ndarray, title: str, height: int = 320) -> go.Figure:
    """A feature map: diverging colours centred at 0 when it has negative values, grey otherwise."""
    values = np.round(np.asarray(values, dtype=float), 3)  # short numbers keep the page light
    fig = heatmap(values, title, signed=bool(values.min() < 0))
    fig.update_traces(hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>")
    return compact(fig, height)


def map_to_rgb(values: np.ndarray) -> np.ndarray:
    """(3, H, W) colours in [0, 1] for a 2-D map: red positive, blue negative, white 0; grey when never negative."""
    v = np.asarray(values, dtype=float)
    if v.min() >= 0:
        return np.repeat((v / (v.max() or 1.0))[None], 3, axis=0)
    t = v / np.abs(v).max()
    fade = 1 - np.abs(t)
    return np.stack([np.where(t > 0, 1, fade), fade, np.where(t < 0, 1, fade)])


def size_formula(axis: str, n: int, k: int, stride: int, pads: tuple[int, int], dilation: int) -> str:
    """LaTeX of floor((n + 2p − d(k−1) − 1)/s) + 1 with the numbers filled in."""
    out = output_length(n + sum(pads), k, stride, 0, dilation)  # uneven "same" padding: add both sides
    pad = f"2 \\cdot {pads[0]}" if pads[0] == pads[1] else f"{pads[0]} + {pads[1]}"
    return (f"{axis}_{{out}} = \\left\\lfloor \\frac{{{n} + {pad} - {dilation} \\cdot ({k} - 1) - 1}}{{{stride}}} "
            f"\\right\\rfloor + 1 = {out}")


def draw_formulas(shape: tuple[int, int], k: int, stride: int, pads: tuple[tuple[int, int], ...], dilation: int) -> None:
    """The output-size formula, then the height and width with their numbers."""
    st.latex(r"\text{size}_{out} = \left\lfloor \frac{n + 2p - d\,(k - 1) - 1}{s} \right\rfloor + 1")
    st.latex(size_formula("H", shape[0], k, stride, pads[0], dilation))
    st.latex(size_formula("W", shape[1], k, stride, pads[1], dilation))


def draw_pool_formulas(shape: tuple[int, int], size: int, stride: int) -> None:
    """The output-size formula for pooling: no padding, no dilation."""
    st.latex(r"\text{size}_{out} = \left\lfloor \frac{n - k}{s} \right\rfloor + 1")
    for axis, n in zip("HW", shape):
        st.latex(f"{axis}_{{out}} = \\left\\lfloor \\frac{{{n} - {size}}}{{{stride}}} \\right\\rfloor + 1 = "
                 f"{output_length(n, size, stride)}")


def draw_triptych(image: np.ndarray, kernel: np.ndarray, output: np.ndarray, output_title: str) -> None:
    """Input, kernel with its numbers, and output feature map side by side."""
    left, middle, right = st.columns([5, 3, 5])
    left.plotly_chart(image_figure(image, f"Input {image.shape[1]}×{image.shape[2]}"), key="conv_input_chart")
    fig = heatmap(kernel, f"Kernel {kernel.shape[0]}×{kernel.shape[1]}", signed=True, text=True)
    middle.plotly_chart(fig.update_traces(showscale=False), key="conv_kernel_chart")
    right.plotly_chart(map_figure(output, f"{output_title} {output.shape[0]}×{output.shape[1]}"), key="conv_output_chart")


def _mark_window(fig: go.Figure, step: ConvStep) -> None:
    """Outline the window and, when dilated, each pixel the kernel reads."""
    r0, r1, c0, c1 = step.rows[0], step.rows[-1], step.cols[0], step.cols[-1]
    fig.add_shape(type="rect", x0=c0 - 0.5, x1=c1 + 0.5, y0=r0 - 0.5, y1=r1 + 0.5,
                  line=dict(color=WINDOW_COLOUR, width=3))
    if len(step.rows) > 1 and step.rows[1] - step.rows[0] > 1:  # dilated: the kernel skips pixels
        for r in step.rows:
            for c in step.cols:
                fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                              line=dict(color=WINDOW_COLOUR, width=1))


ZOOM_MARGIN = 2  # pixels shown around the window in the close-up


def zoom_figure(padded: np.ndarray, step: ConvStep) -> go.Figure:
    """A close-up of the window and a few pixels around it, with the pixel values written in for one channel."""
    top, left = max(0, step.rows[0] - ZOOM_MARGIN), max(0, step.cols[0] - ZOOM_MARGIN)
    crop = padded[:, top : step.rows[-1] + ZOOM_MARGIN + 1, left : step.cols[-1] + ZOOM_MARGIN + 1]
    title = f"Close-up: rows {top}–{top + crop.shape[1] - 1}, columns {left}–{left + crop.shape[2] - 1}"
    if crop.shape[0] == 1:
        fig = heatmap(crop[0], title, zmin=0, zmax=1, text=max(crop.shape[1:]) <= 16)
        fig.update_traces(x=left + np.arange(crop.shape[2]), y=top + np.arange(crop.shape[1]), showscale=False)
        _mark_window(fig, step)
        return compact(fig)
    fig = image_figure(crop, title)
    _mark_window(fig, dataclasses.replace(step, rows=step.rows - top, cols=step.cols - left))
    return fig


def draw_window(padded: np.ndarray, step: ConvStep, output: np.ndarray, pads: tuple[tuple[int, int], ...]) -> None:
    """The padded input with the window outlined, a close-up of the window, and the output with the value marked."""
    left, middle, right = st.columns(3)
    padding = ", zero padding dark" if any(map(any, pads)) else ""
    fig = image_figure(padded, f"Input{padding}: the window for row {step.row}, column {step.col}")
    _mark_window(fig, step)
    left.plotly_chart(fig, key="conv_step_input")
    middle.plotly_chart(zoom_figure(padded, step), key="conv_step_zoom")
    fig = map_figure(output, "Output: the value being computed")
    fig.add_shape(type="rect", x0=step.col - 0.5, x1=step.col + 0.5, y0=step.row - 0.5, y1=step.row + 0.5,
                  line=dict(color=WINDOW_COLOUR, width=3))
    right.plotly_chart(fig, key="conv_step_output")


def _number_grid(values: np.ndarray, x0: int, y0: int, signed: bool) -> go.Heatmap:
    """A small grid with its numbers written in, placed at (x0, y0): signed colours, or grey 0 to 1 for pixels."""
    bound = float(np.abs(values).max()) or 1.0
    colours = dict(colorscale="RdBu", reversescale=True, zmin=-bound, zmax=bound) if signed else \
        dict(colorscale="Gray", zmin=0.0, zmax=1.0)
    return go.Heatmap(z=values, x=x0 + np.arange(values.shape[1]), y=y0 + np.arange(values.shape[0]),
                      text=np.round(values, 2), texttemplate="%{text}", showscale=False, xgap=1, ygap=1,
                      hovertemplate="%{z:.4f}<extra></extra>", **colours)


def _num(value: float) -> str:
    """A short number for a written-out sum, negatives in brackets: 0.25, (−1)."""
    text = f"{value:.3g}"
    return f"({text})" if value < 0 else text


def draw_products(step: ConvStep, kernel: np.ndarray, relu: bool) -> None:
    """Window × kernel = products, one row per channel, then the sum written out."""
    names = CHANNEL_NAMES.get(step.window.shape[0], [f"channel {c}" for c in range(step.window.shape[0])])
    kh, kw = kernel.shape
    fig = go.Figure()  # one set of axes, grids placed side by side: much lighter than make_subplots
    for c in range(len(names)):
        for j, values in enumerate((step.window[c], kernel, step.products[0, c])):
            fig.add_trace(_number_grid(values, j * (kw + 1), c * (kh + 1), signed=j > 0))
    centres = (kw - 1) / 2 + (kw + 1) * np.arange(3)
    fig.update_xaxes(tickvals=centres, ticktext=["window", "× kernel", "= products"], side="top", showgrid=False,
                     zeroline=False)
    fig.update_yaxes(tickvals=(kh - 1) / 2 + (kh + 1) * np.arange(len(names)), ticktext=list(names),
                     autorange="reversed", scaleanchor="x", showgrid=False, zeroline=False)
    st.plotly_chart(compact(fig, 80 + 170 * len(names)), key="conv_products_chart")
    total = float(step.total[0])
    if len(names) == 1:
        terms = " + ".join(f"{_num(a)}×{_num(b)}" for a, b in zip(step.window[0].ravel(), kernel.ravel()))
        st.code(f"{terms}\n= {total:.4f}", language=None, wrap_lines=True)
    else:
        parts = " + ".join(f"{s:.3f} ({name})" for s, name in zip(step.channel_sums[0], names))
        st.markdown(f"Sum of each channel's products: {parts} = **{total:.4f}**")
    if relu:
        st.markdown(f"ReLU keeps positives and zeroes negatives: max({total:.4f}, 0) = **{max(total, 0.0):.4f}**")
    else:
        st.markdown(f"Output value at row {step.row}, column {step.col}: **{total:.4f}**")


def draw_channel_sums(contributions: np.ndarray, names: tuple[str, ...]) -> None:
    """Each channel's share of the output, and their sum."""
    titles = [f"{n} channel × its kernel slice" for n in names] + ["sum = output"]
    maps = [*contributions, contributions.sum(axis=0)]
    fig = make_subplots(1, len(maps), subplot_titles=titles, horizontal_spacing=0.03)
    bound = float(np.abs(maps[-1]).max()) or 1.0
    for j, values in enumerate(maps):
        fig.add_trace(go.Heatmap(z=np.round(values, 3).astype(np.float32), colorscale="RdBu", reversescale=True, zmid=0,
                                 zmin=-bound, zmax=bound, showscale=j == len(maps) - 1,
                                 hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>"), 1, j + 1)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{j + 1}", showticklabels=False, row=1, col=j + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=j + 1)
    st.plotly_chart(compact(fig, 300), key="conv_channels_chart")


def draw_gallery(maps: dict[str, np.ndarray], scale: int) -> None:
    """Every preset's feature map as a small picture."""
    names = list(maps)
    st.image([tile(map_to_rgb(maps[n]), scale) for n in names], caption=names)


def draw_pooling(before: np.ndarray, after: np.ndarray, kind: str) -> None:
    left, right = st.columns(2)
    left.plotly_chart(map_figure(before, f"Before: feature map {before.shape[0]}×{before.shape[1]}"), key="conv_pool_in")
    title = f"After {kind} pooling {after.shape[0]}×{after.shape[1]}"
    right.plotly_chart(map_figure(after, title), key="conv_pool_out")
