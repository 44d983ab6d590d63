"""Drawing for the Convolution page: input, kernel and feature maps, the sliding window, channels, pooling.

No chart library: a map is a PNG picture enlarged by whole pixels (crisp, light, drawn by the browser at once, and a
page without a Plotly chart never loads Plotly's code), and a small grid of numbers is a static table shaded as the
maps are, which grows with presenting mode's type. Each pixel's number is in the Step by step tab."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnn_core.conv.ops import ConvStep, output_length
from ui.plots import CHANNEL_NAMES, TILE_MARGIN, display_scale, png, tile
from ui.static_table import draw_table, table_html

WINDOW_RGB = (0, 229, 255)  # cyan: the window, in the pictures and the close-up's table
WINDOW_CSS = "3px solid rgb(0, 229, 255)"
GRID_WIDTH = "3.4em"  # of each cell of a small grid: a grid of numbers reads as a grid when its cells are as wide
MAP_PX = 320  # about how wide the Convolution tab draws the input and the output (two of three columns)
STEP_PX = 270  # the Step by step tab's pictures, three side by side
ZOOM_PX = 220  # a close-up drawn as a picture (colour, or too many pixels for a table)
ZOOM_MARGIN = 1  # pixels shown around the window in the close-up: a 3×3 window in 5×5 fits a third of a projector
ZOOM_TABLE = 9  # the most pixels a side the close-up writes out as a table of numbers (a third of a page wide)


POSITIVE, NEGATIVE = np.array([178, 24, 43]) / 255, np.array([33, 102, 172]) / 255  # ColorBrewer RdBu's dark ends


def map_to_rgb(values: np.ndarray, bound: float | None = None, signed: bool | None = None) -> np.ndarray:
    """(3, H, W) colours in [0, 1] for a 2-D map: red positive, blue negative, white 0, full colour at ±bound; or,
    when not signed (by default: never negative), grey from black at 0 to white at bound. bound: the map's largest
    magnitude unless given (one scale for several maps)."""
    v = np.asarray(values, dtype=float)
    signed = bool(v.min() < 0) if signed is None else signed
    bound = float(bound if bound is not None else np.abs(v).max()) or 1.0
    t = np.clip(v / bound, -1.0, 1.0)
    if not signed:
        return np.repeat(np.clip(t, 0.0, 1.0)[None], 3, axis=0)
    end = np.where(t[None] > 0, POSITIVE[:, None, None], NEGATIVE[:, None, None])
    return 1 - np.abs(t)[None] * (1 - end)  # white at 0, towards the end's colour with |t|


def _g(value: float) -> str:
    """A short number: three significant digits, never "-0"."""
    return f"{float(value) + 0.0:.3g}"


def colour_scale(bound: float, signed: bool) -> str:
    """What map_to_rgb's colours stand for, in words."""
    return f"red positive, blue negative, white 0, full colour at ±{_g(bound)}" if signed else f"black 0, white {_g(bound)}"


def value_range(values: np.ndarray, bound: float | None = None, signed: bool | None = None) -> str:
    """How to read a map's colours (as map_to_rgb draws them): its smallest and largest values, and the scale."""
    v = np.asarray(values, dtype=float)
    signed = bool(v.min() < 0) if signed is None else signed
    scale = colour_scale(bound if bound is not None else float(np.abs(v).max()), signed)
    return f"values {_g(v.min())} to {_g(v.max())} ({scale})"


def image_caption(image: np.ndarray, title: str) -> str:
    """An input image's title and value range: one channel from black 0 to white 1, or red, green and blue."""
    values = f"values {_g(image.min())} to {_g(image.max())}"
    if image.shape[0] == 1:
        return f"**{title}**: {values} (black 0, white 1)"
    return f"**{title}**, red, green and blue channels: {values} (each channel from none at 0 to full at 1)"


def _outline(shown: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], scale: int, width: int) -> None:
    """Draw a window-coloured frame `width` pixels wide around cells rows[0]..rows[1] × cols[0]..cols[1] of a tile
    enlarged `scale` times, on the cells' edge: half outside (in the tile's transparent margin at the border)."""
    y0, y1 = TILE_MARGIN + rows[0] * scale, TILE_MARGIN + (rows[1] + 1) * scale
    x0, x1 = TILE_MARGIN + cols[0] * scale, TILE_MARGIN + (cols[1] + 1) * scale
    out, inside = width // 2, width - width // 2
    for top, bottom, left, right in ((y0 - out, y0 + inside, x0 - out, x1 + out), (y1 - inside, y1 + out, x0 - out, x1 + out),
                                     (y0 - out, y1 + out, x0 - out, x0 + inside), (y0 - out, y1 + out, x1 - inside, x1 + out)):
        shown[max(top, 0) : bottom, max(left, 0) : right] = (*WINDOW_RGB, 255)


def _mark_window(shown: np.ndarray, step: ConvStep, scale: int, top: int = 0, left: int = 0) -> None:
    """Outline the window and, when dilated, each pixel the kernel reads; (top, left): the picture's first cell."""
    rows, cols = step.rows - top, step.cols - left
    _outline(shown, (rows[0], rows[-1]), (cols[0], cols[-1]), scale, 3 if scale >= 3 else 2)
    if len(rows) > 1 and rows[1] - rows[0] > 1:  # dilated: the kernel skips pixels
        for r in rows:
            for c in cols:
                _outline(shown, (r, r), (c, c), scale, 1)


def _cell_css(rgb: np.ndarray, width: str | None) -> np.ndarray:
    """(H, W) CSS of table cells shaded with (3, H, W) colours in [0, 1]: dark text on light, light on dark; each
    cell at least `width` wide, or (None) snug."""
    r, g, b = (np.asarray(rgb) * 255).round().astype(int)
    light = 0.299 * r + 0.587 * g + 0.114 * b > 128
    css = [f"background-color: rgb({x}, {y}, {z}); color: {'black' if lit else 'white'}"
           + (f"; min-width: {width}" if width else "; padding: 0.2em 0.3em")  # or snug: a close-up of 7×7
           for x, y, z, lit in zip(r.ravel(), g.ravel(), b.ravel(), light.ravel())]
    return np.array(css, dtype=object).reshape(r.shape)


def number_table(values: np.ndarray, signed: bool, fmt: str = "{:.3g}", top: int = 0, left: int = 0,
                 window: ConvStep | None = None, width: str | None = GRID_WIDTH, numbered: bool = False,
                 label: str = "") -> str:
    """A small grid with its numbers written in, as a static HTML table (ui.static_table): signed colours as the maps
    have (red positive, blue negative, white 0), or grey from black 0 to white 1 for pixels. `numbered`: rows and
    columns numbered from (top, left); `window` outlines the cells a convolution step reads; `width`: each cell's
    least width."""
    v = np.asarray(values, dtype=float) + 0.0  # no "-0"
    frame = pd.DataFrame(v, index=top + np.arange(v.shape[0]), columns=left + np.arange(v.shape[1]))
    css = _cell_css(map_to_rgb(v, signed=True) if signed else np.repeat(np.clip(v, 0, 1)[None], 3, axis=0), width)
    if window is not None:
        rows, cols = list(window.rows - top), list(window.cols - left)
        dilated = len(rows) > 1 and rows[1] - rows[0] > 1
        for r in range(rows[0], rows[-1] + 1):
            for c in range(cols[0], cols[-1] + 1):
                sides = [side for side, edge in (("top", r == rows[0]), ("bottom", r == rows[-1]), ("left", c == cols[0]),
                                                 ("right", c == cols[-1])) if edge or (dilated and r in rows and c in cols)]
                css[r, c] += "".join(f"; border-{side}: {WINDOW_CSS}" for side in sides)
    return table_html(frame, index=numbered, header=numbered, fit=True, label=label, style=lambda i, j, _: css[i, j],
                      formats=dict.fromkeys(frame.columns, fmt.format))


def size_formula(axis: str, n: int, k: int, stride: int, pads: tuple[int, int], dilation: int) -> str:
    """LaTeX of floor((n + 2p − d(k−1) − 1)/s) + 1 with the numbers filled in."""
    out = output_length(n + sum(pads), k, stride, 0, dilation)  # uneven "same" padding: add both sides
    pad = f"2 \\cdot {pads[0]}" if pads[0] == pads[1] else f"{pads[0]} + {pads[1]}"
    return (f"{axis}_{{out}} = \\left\\lfloor \\frac{{{n} + {pad} - {dilation} \\cdot ({k} - 1) - 1}}{{{stride}}} "
            f"\\right\\rfloor + 1 = {out}")


def show(where, shown: np.ndarray | list[np.ndarray], caption: str | list[str]) -> None:
    """Tiles as PNG pictures at their own size: a caption wider than its picture wraps instead of stretching the
    picture (which the browser would smooth)."""
    tiles = shown if isinstance(shown, list) else [shown]
    pngs = [png(t) for t in tiles]
    where.image(pngs if isinstance(shown, list) else pngs[0], caption=caption, width=tiles[0].shape[1])


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


def draw_input(image: np.ndarray, title: str, scale: int | None = None, where=st) -> None:
    """A (C, H, W) image in [0, 1] as a picture, with its size and values in the caption."""
    scale = scale or display_scale(max(image.shape[1:]), MAP_PX)
    show(where, tile(image, scale), image_caption(image, f"{title} {image.shape[1]}×{image.shape[2]}"))


def draw_triptych(image: np.ndarray, kernel: np.ndarray, output: np.ndarray, output_title: str) -> None:
    """Input, kernel with its numbers, and output feature map side by side, input and output at one enlargement."""
    left, middle, right = st.columns([5, 3, 5], vertical_alignment="center")
    scale = display_scale(max(*image.shape[1:], *output.shape), MAP_PX)
    draw_input(image, "Input", scale, left)
    draw_table(number_table(kernel, signed=True, label="kernel"), "conv_kernel_table", middle)
    middle.caption(f"**Kernel {kernel.shape[0]}×{kernel.shape[1]}**: red positive, blue negative, white 0")
    show(right, tile(map_to_rgb(output), scale),
         f"**{output_title} {output.shape[0]}×{output.shape[1]}**: {value_range(output)}")


def _zoom(padded: np.ndarray, step: ConvStep, where) -> None:
    """A close-up of the window and a few pixels around it: for one channel a table of its numbers, numbered by
    row and column, with the window outlined; otherwise (or too many pixels for a table) a picture."""
    top, left = max(0, step.rows[0] - ZOOM_MARGIN), max(0, step.cols[0] - ZOOM_MARGIN)
    crop = padded[:, top : step.rows[-1] + ZOOM_MARGIN + 1, left : step.cols[-1] + ZOOM_MARGIN + 1]
    title = f"**Close-up**: rows {top}–{top + crop.shape[1] - 1}, columns {left}–{left + crop.shape[2] - 1}"
    if crop.shape[0] == 1 and max(crop.shape[1:]) <= ZOOM_TABLE:
        draw_table(number_table(crop[0], False, "{:.2f}", top, left, window=step, width=None, numbered=True,
                                label="close-up"), "conv_zoom_table", where)
        where.caption(f"{title}, each pixel's value (black 0, white 1)")
        return
    scale = display_scale(max(crop.shape[1:]), ZOOM_PX)
    shown = tile(crop, scale)
    _mark_window(shown, step, scale, top, left)
    show(where, shown, f"{title}; each channel's numbers are below")


def draw_window(padded: np.ndarray, step: ConvStep, output: np.ndarray, pads: tuple[tuple[int, int], ...]) -> None:
    """The padded input with the window outlined, a close-up of the window, and the output with the value marked."""
    left, middle, right = st.columns([4, 5, 4])  # the middle a little wider: a close-up table of 7×7 numbers
    scale = display_scale(max(padded.shape[1:]), STEP_PX)
    shown = tile(padded, scale)
    _mark_window(shown, step, scale)
    padding = ", zero padding dark" if any(map(any, pads)) else ""
    show(left, shown, f"**Input{padding}**: the window for row {step.row}, column {step.col}, outlined")
    _zoom(padded, step, middle)
    scale = display_scale(max(output.shape), STEP_PX)
    shown = tile(map_to_rgb(output), scale)
    _outline(shown, (step.row, step.row), (step.col, step.col), scale, 3 if scale >= 3 else 2)
    show(right, shown, f"**Output**: the value being computed, outlined; {value_range(output)}")


def _num(value: float) -> str:
    """A short number for a written-out sum, negatives in brackets: 0.25, (−1)."""
    text = f"{value:.3g}"
    return f"({text})" if value < 0 else text


def draw_products(step: ConvStep, kernel: np.ndarray, relu: bool) -> None:
    """Window × kernel = products, one row per channel, then the sum written out."""
    names = CHANNEL_NAMES.get(step.window.shape[0], [f"channel {c}" for c in range(step.window.shape[0])])
    for c, name in enumerate(names):
        grids = (("window", step.window[c], False), ("× kernel", kernel, True), ("= products", step.products[0, c], True))
        for k, (col, (label, values, signed)) in enumerate(zip(st.columns(3), grids)):
            col.caption(f"**{name}** {label}" if len(names) > 1 else f"**{label}**")
            draw_table(number_table(values, signed, label=f"{name} {label}"), f"conv_products_{c}_{k}", col)
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
    """Each channel's share of the output, and their sum, on one colour scale."""
    maps = [*contributions, contributions.sum(axis=0)]
    bound = max(float(np.abs(m).max()) for m in maps) or 1.0
    signed = any(float(m.min()) < 0 for m in maps)
    scale = display_scale(max(maps[0].shape), 200)  # four across the page
    titles = [f"{'+ ' * (j > 0)}**{n}** channel × its kernel slice" for j, n in enumerate(names)] + ["= **the output**"]
    show(st, [tile(map_to_rgb(m, bound, signed), scale) for m in maps],
         [f"{t}: {_g(m.min())} to {_g(m.max())}" for t, m in zip(titles, maps)])
    st.caption(f"All four on one scale: {colour_scale(bound, signed)}.")


def draw_gallery(maps: dict[str, np.ndarray], scale: int) -> None:
    """Every preset's feature map as a small picture."""
    names = list(maps)
    show(st, [tile(map_to_rgb(maps[n]), scale) for n in names], names)


def draw_pooling(before: np.ndarray, after: np.ndarray, kind: str) -> None:
    """The feature map before and after pooling, drawn at about the same size and on one colour scale."""
    left, right = st.columns(2)
    bound, signed = float(np.abs(before).max()) or 1.0, bool(before.min() < 0)
    for where, values, title in ((left, before, "Before: feature map"), (right, after, f"After {kind} pooling")):
        shown = tile(map_to_rgb(values, bound, signed), display_scale(max(values.shape), MAP_PX))
        show(where, shown, f"**{title} {values.shape[0]}×{values.shape[1]}**: {value_range(values, bound, signed)}")
