"""The Architecture page's table conversions and drawings: summary table, cost chart, formulas (the shape flow is in
ui/arch_flow.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from cnn_core.nets.codegen import generate_code
from cnn_core.nets.layers import ARGS, LAYER_TYPES, LayerSpec, SpecError, layer_type
from cnn_core.nets.shapes import shape_text
from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import Summary, format_bytes, format_count, summarize
from ui.plots import compact
from ui.static_table import draw_table, table_html

# Argument → (short header, width in pixels): with the type and row number, every column fits on screen at 1400.
ARG_HEADERS = {"out_channels": ("out ch", 70), "kernel_size": ("kernel", 70), "stride": ("stride", 70),
               "padding": ("pad", 56), "dilation": ("dilation", 80), "output_size": ("out size", 80),
               "out_features": ("out feat", 80), "p": ("p", 56), "negative_slope": ("slope", 66), "bias": ("bias", 56)}
FAIL_STYLE = "background-color: #fde2e2; color: #8b0000"


# ---------------------------------------------------------------- what depends only on the spec
# The summary, the table, the charts and the code depend only on the spec, so each is built once per spec and shared
# by every session, keyed by the spec's content (its JSON text: two equal specs share an entry, whoever built them).
# A rerun that keeps the spec (another tab, a widget that changes nothing) rebuilds nothing, and an unchanged figure
# leaves as the same spec (Streamlit then sends a reference to the copy the browser holds). The shared objects are
# frozen (Summary) or never changed after they are built (figures: st.plotly_chart reads them through a copy).


def spec_summary(spec: ModelSpec) -> Summary:
    return _summary(spec.to_json(), spec)


@st.cache_resource(max_entries=64, show_spinner=False)
def _summary(content: str, _spec: ModelSpec) -> Summary:
    return summarize(_spec)


@st.cache_data(max_entries=64, show_spinner=False)
def spec_code(content: str, _spec: ModelSpec) -> str:
    """The generated PyTorch module of a spec that works."""
    return generate_code(_spec)


# ---------------------------------------------------------------- the layer table


def table_frame(spec: ModelSpec) -> pd.DataFrame:
    """One row per layer: its type and every argument it takes (blank where the type takes none)."""
    rows = [{"type": lay.type, **{c: lay.kwargs.get(c) for c in ARGS}} for lay in spec.layers]
    frame = pd.DataFrame(rows, columns=["type", *ARGS])
    dtypes = {c: {int: "Int64", float: "Float64", bool: "boolean"}[arg.kind] for c, arg in ARGS.items()}
    return frame.astype({"type": "string", **dtypes})


def _cell(name: str, value: Any) -> Any:
    """A table cell as the plain Python value LayerSpec expects (whole numbers as int)."""
    kind = ARGS[name].kind
    if kind is bool:
        return bool(value)
    value = float(value)
    return value if kind is float or not value.is_integer() else int(value)


def spec_from_table(frame: pd.DataFrame, input: tuple[int, int, int], num_classes: int) -> ModelSpec:
    """The edited table as a spec; cells a type does not take are ignored; SpecError names a bad row."""
    layers: list[LayerSpec] = []
    for i, row in enumerate(frame.to_dict("records")):
        t = row.get("type")
        if t is None or pd.isna(t) or t not in LAYER_TYPES:
            raise SpecError(i, f"choose a layer type for row {i}", "?")
        kwargs = {c: _cell(c, row[c]) for c in layer_type(t).args if c in row and not pd.isna(row[c])}
        try:
            layers.append(LayerSpec.make(t, **kwargs))
        except ValueError as exc:
            raise SpecError(i, str(exc), t) from None
    return ModelSpec(tuple(input), num_classes, tuple(layers))


def table_column_config() -> dict:
    """The editor's columns: a type picker, then whole-number, probability and yes/no arguments, narrow."""
    config: dict[str, Any] = {"_index": st.column_config.Column("#", width=40), "type": st.column_config.SelectboxColumn(
        "type", options=list(LAYER_TYPES), required=True, width=140,
        help="The layer, as torch.nn names it in lower case.")}  # fmt: skip
    for c, arg in ARGS.items():
        (label, width), text = ARG_HEADERS[c], f"{c} — {arg.help}"
        if arg.kind is bool:
            config[c] = st.column_config.CheckboxColumn(label, help=text, width=width)
        elif arg.kind is float:
            top = None if arg.below is None else arg.below - 0.05
            config[c] = st.column_config.NumberColumn(label, min_value=arg.minimum, max_value=top, step=0.01,
                                                      help=text, width=width)  # fmt: skip
        else:
            config[c] = st.column_config.NumberColumn(label, min_value=0, step=1, format="%d", help=text, width=width)
    return config


# ---------------------------------------------------------------- the summary


# Column → what it means (the expander under the table): the static table wraps, so full names fit.
SUMMARY_COLUMNS = {
    "#": "The layer's position in the spec, from 0.",
    "layer": "Its name in the generated code and in the trained model's weights.",
    "type": "The layer type, as torch.nn names it in lower case.",
    "output shape": "Channels × height × width, or features once flat (one image).",
    "how the size follows": "The output-size formula with this layer's numbers.",
    "parameters": "The weights and biases it learns.",
    "non-trainable": "Numbers it keeps but doesn't learn: BatchNorm's running mean and variance.",
    "MACs": "Multiply-accumulates for one image (conv and linear).",
    "receptive field": "The input window one output value can see (padding included). Once flat, every feature "
                       "sees the whole image.",
    "jump": "Input pixels between neighbouring output values.",
    "memory": "Float32 bytes of its output for one image.",
}


def summary_frame(summary: Summary) -> pd.DataFrame:
    """The summary as a table; a broken spec gets one more row, first so that it is seen: where and why it breaks."""
    rows = [{"#": r.index, "layer": r.name, "type": r.type, "output shape": shape_text(r.output_shape),
             "how the size follows": r.formula, "parameters": r.params, "non-trainable": r.buffers, "MACs": r.macs,
             "receptive field": "whole image" if r.receptive_field is None else f"{r.receptive_field}×{r.receptive_field}",
             "jump": "" if r.jump is None else str(r.jump), "memory": format_bytes(r.memory)}
            for r in summary.rows]  # fmt: skip
    error = summary.error
    if error is not None and error.index >= len(summary.rows):
        rows.insert(0, {"#": error.index, "layer": "✗", "type": error.layer_type, "output shape": "breaks here",
                        "how the size follows": error.reason, "receptive field": "", "jump": "", "memory": ""})  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    counts = ("parameters", "non-trainable", "MACs")  # as text, so the breaking row shows blanks, not "None"
    return frame.assign(**{c: frame[c].map(lambda v: "" if pd.isna(v) else f"{int(v):,}") for c in counts})


@st.cache_data(max_entries=64, show_spinner=False)
def summary_table_html(content: str, _summary: Summary) -> str:
    """The layer table's HTML, built once per spec's content and shared by every session."""
    frame = summary_frame(_summary)
    bad = _summary.error.index if _summary.error is not None else None
    failing = (frame["#"] == bad).tolist()  # the breaking row, styled

    def style(row: int, column: int, value: Any) -> str:
        return FAIL_STYLE if failing[row] else ""

    return table_html(frame, index=False, style=style, numeric=("parameters", "non-trainable", "MACs", "memory"),
                      titles=SUMMARY_COLUMNS, label="Every layer: its output shape, parameters, MACs and receptive field")


def draw_summary_table(summary: Summary) -> None:
    """The layer table as one static HTML table (ui/static_table.py): a data grid is a canvas the browser must load
    and draw, and st.table draws each of its 240 cells through a markdown renderer; it wraps instead of cutting, and
    each cell is shown as the text it is (an imported spec's values). A header's tooltip says what its column means."""
    draw_table(summary_table_html(summary.spec.to_json(), summary), key="arch_layer_table")
    with st.expander("What the columns mean"):
        st.markdown("\n".join(f"- **{name}**: {text}" for name, text in SUMMARY_COLUMNS.items()))


def draw_totals(summary: Summary) -> None:
    cols = st.columns(5)
    cols[0].metric("Parameters", f"{summary.total_params:,}", help="Weights and biases that training adjusts.")
    cols[1].metric("Non-trainable", f"{summary.total_buffers:,}", help="BatchNorm's running statistics.")
    cols[2].metric("MACs per image", format_count(summary.total_macs),
                   help="Multiply-accumulates for one forward pass of one image.")
    cols[3].metric("Activations", format_bytes(summary.activation_bytes),
                   help="Float32 memory of every layer's output for one image; training keeps it for the "
                   "backward pass, times the batch size.")  # fmt: skip
    cols[4].metric("Weights", format_bytes(summary.param_bytes), help="Float32 memory of the parameters.")


def draw_cost_chart(summary: Summary) -> None:
    fig = cost_figure(summary.spec.to_json(), summary)
    if fig is None:
        st.info("No layer with parameters yet.")
        return
    st.caption("Convolutions do most of the arithmetic; the first linear layer usually holds most of the parameters.")
    st.plotly_chart(fig, key="arch_cost_chart")


@st.cache_resource(max_entries=64, show_spinner=False)
def cost_figure(content: str, _summary: Summary) -> go.Figure | None:
    """Parameters and MACs per layer, two bar charts on one axis of layer names; None without such a layer."""
    rows = [r for r in _summary.rows if r.params or r.macs]
    if not rows:
        return None
    names = [r.name for r in rows]
    fig = make_subplots(2, 1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Parameters per layer", "Multiply-accumulates per layer (one image)"))
    fig.add_bar(x=names, y=[r.params for r in rows], name="parameters", marker_color="#1f77b4", row=1, col=1,
                hovertemplate="%{x}: %{y:,} parameters<extra></extra>")
    fig.add_bar(x=names, y=[r.macs for r in rows], name="MACs", marker_color="#ff7f0e", row=2, col=1,
                hovertemplate="%{x}: %{y:,} MACs<extra></extra>")
    fig.update_layout(showlegend=False)
    return compact(fig, 420)


def draw_formulas(summary: Summary) -> None:
    lines = []
    for r in summary.rows:
        if r.formula and LAYER_TYPES[r.type].rule and r.type != "linear":
            a = summary.spec.layers[r.index].kwargs
            args = ", ".join(f"{k} {a[k]}" for k in ("kernel_size", "stride", "padding", "dilation", "output_size")
                             if k in a and not (k == "dilation" and a[k] == 1))  # fmt: skip
            lines.append(f"- **{r.name}** ({r.type}{': ' + args if args else ''}): `{r.formula}`")
    if not lines:
        st.info("No convolution, pooling or flatten layer yet.")
        return
    st.markdown("\n".join(lines))
    st.caption("Convolution and pooling: out = ⌊(in + 2·padding − kernel) / stride⌋ + 1 (with dilation d, the "
               "kernel spans d·(kernel − 1) + 1 pixels). ⌊ ⌋ rounds down: pixels that don't fill a window are dropped.")
