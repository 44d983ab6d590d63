"""The Architecture page's shape flow: a box per tensor whose shape a layer changes, as a small inline SVG.

It was a Plotly figure: on a direct load of the page that was the only chart, and drawing it (and loading Plotly's
code into the page for it) was about 0.4 s of the browser's main thread; an SVG of a dozen boxes is drawn in a
few milliseconds. Horizontal positions are percentages of the width (the boxes spread over the page as the
figure's did) and heights are pixels, so the labels keep their size however wide the page is (presenting mode
enlarges them as it does the charts' text: ui/lesson/presenting.py)."""

from __future__ import annotations

import math
from html import escape

import streamlit as st

from cnn_core.nets.layers import LAYER_TYPES, MISSING_HEAD
from cnn_core.nets.shapes import shape_text
from cnn_core.nets.summary import Summary

HEIGHT = 200  # pixels
SCALE = 136  # pixels per unit of box height: the tallest box (the input's size) is 1 unit
MIDDLE = 80  # the boxes' centre line, in pixels from the top
LABEL_Y = MIDDLE + 0.52 * SCALE + 12  # the first label line's baseline, under the tallest box
GAP = 0.35  # units between boxes
MIN_UNIT = 85  # the fewest pixels a unit of width: a flat vector's label stays clear of its neighbours (SimpleCNN: 723 px)
IMAGE, FLAT, BROKEN = "#1f77b4", "#ff7f0e", "#d62728"


def box_size(shape: tuple[int, ...], side: int, widest: int) -> tuple[float, float]:
    """(width, height) of a tensor's box: width grows with log channels, height with the spatial size."""
    if len(shape) == 3:
        return 0.25 + 0.75 * math.log2(shape[0] + 1) / math.log2(widest + 1), max(0.06, min(1.0, shape[1] / side))
    return 0.12, 0.1 + 0.5 * math.log10(shape[0] + 1) / math.log10(max(widest, 10) + 1)


def draw_shape_flow(summary: Summary) -> None:
    st.markdown(shape_flow_svg(summary.spec.to_json(), summary), unsafe_allow_html=True)  # st.html drops SVG
    st.caption("Each box is the tensor after a layer that changes its shape: taller = larger image, wider = more "
               "channels (blue); orange bars are flat vectors, taller = more features. Point at a box for its shape.")


@st.cache_data(max_entries=64, show_spinner=False)
def shape_flow_svg(content: str, _summary: Summary) -> str:
    """The SVG of a spec's shape flow, built once per spec's content and shared by every session."""
    summary, spec = _summary, _summary.spec
    stages = [("input", tuple(spec.input))] + [(r.name, r.output_shape) for r in summary.rows
                                               if LAYER_TYPES[r.type].rule]  # fmt: skip
    widest = max(max(s[0] for _, s in stages), 1)
    boxes, x = [], 0.0
    for name, shape in stages:
        w, h = box_size(shape, spec.input[1], widest)
        boxes.append((x, w, h, IMAGE if len(shape) == 3 else FLAT, name, shape_text(shape)))
        x += w + GAP
    broken = summary.error is not None and summary.error.index >= 0
    span = x + (0.5 if broken else 0.0) + 0.3  # the figure's x range was [-0.2, end + 0.1]

    def pct(value: float, origin: float = -0.2) -> str:  # a position (or, from origin 0, a length) as a share
        return f"{100 * (value - origin) / span:.2f}%"

    parts = []
    for x0, w, h, colour, name, shape in boxes:
        top = MIDDLE - h * SCALE / 2
        parts.append(f'<g><title>{escape(name)}: {shape}</title><rect x="{pct(x0)}" width="{pct(w, 0)}" '
                     f'y="{top:.1f}" height="{h * SCALE:.1f}" fill="{colour}" fill-opacity="0.55" stroke="{colour}"/>'
                     f'{_label(pct(x0 + w / 2), escape(name), shape)}</g>')
    if broken:
        where = ("head", "missing") if summary.error.layer_type == MISSING_HEAD else \
            (f"layer {summary.error.index}", "breaks")
        parts.append(f'<g fill="{BROKEN}"><rect x="{pct(x)}" width="{pct(0.5, 0)}" y="{MIDDLE - 0.3 * SCALE:.1f}" '
                     f'height="{0.6 * SCALE:.1f}" fill="none" stroke="{BROKEN}" stroke-dasharray="6 4"/>'
                     f'<text x="{pct(x + 0.25)}" y="{MIDDLE + 8}" text-anchor="middle" font-size="22">✗</text>'
                     f'{_label(pct(x + 0.25), *where)}</g>')
    # Narrower than MIN_UNIT pixels a unit (a phone), the labels would overlap: the drawing keeps that width and scrolls.
    return (f'<div style="overflow-x: auto"><svg class="shape-flow" role="img" aria-label="How the tensor\'s shape '
            f'changes through the network" width="100%" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
            f'style="min-width: {span * MIN_UNIT:.0f}px; font-size: 11px; fill: currentColor">{"".join(parts)}</svg></div>')


def _label(x: str, first: str, second: str) -> str:
    return (f'<text x="{x}" y="{LABEL_Y:.0f}" text-anchor="middle"><tspan x="{x}">{first}</tspan>'
            f'<tspan x="{x}" dy="1.3em">{second}</tspan></text>')
