import streamlit as st

from cnn_core.blocks import DOWNSAMPLING, MAX_BLOCKS, BlockDesign, design_of
from cnn_core.codegen import generate_code
from cnn_core.spec import ACTIVATIONS, PRESETS, ModelSpec, SpecError, preset
from cnn_core.summary import Summary, shape_text, summarize
from ui.arch_views import (
    draw_cost_chart,
    draw_formulas,
    draw_shape_flow,
    draw_summary_table,
    draw_totals,
    spec_from_table,  # fmt: skip
    table_column_config,
    table_frame,
)
from ui.state import current_dataset, seed_widget

MODEL_SPEC = "model_spec"  # session key read by the Training page
BLOCK_FIELDS = ("num_blocks", "kernel_size", "downsample", "downsample_last", "batch_norm", "activation", "dropout",
                "head_pool", "hidden", "head_dropout")  # fmt: skip
DOWNSAMPLE_LABELS = {"max": "max pool 2", "avg": "average pool 2", "stride": "stride-2 convolution"}
ss = st.session_state


def _seed_design(design: BlockDesign) -> None:
    for field in BLOCK_FIELDS:
        ss[f"arch_{field}"] = getattr(design, field)
    for i, c in enumerate(design.channels):
        ss[f"arch_ch_{i}"] = c


def _use_spec(spec: ModelSpec, note: str = "") -> None:
    """Make `spec` the one being edited: the table restarts from it, the block controls too if it has blocks."""
    ss.arch_current, ss.arch_table_base, ss.arch_note = spec, spec, note
    ss.arch_table_version = ss.get("arch_table_version", 0) + 1
    design = design_of(spec)
    if design is not None:
        _seed_design(design)
    elif ss.get("arch_mode", "blocks") == "blocks":
        ss.arch_mode = "layers"
        ss.arch_note = (note + " " if note else "") + "This network is not a stack of identical blocks, so you " \
            "edit it layer by layer."


def _on_preset() -> None:
    ds = current_dataset()
    _use_spec(preset(ss.arch_preset, ds.input_shape, ds.num_classes))
    st.query_params["arch"] = ss.arch_preset


def _on_mode() -> None:
    if ss.arch_mode == "layers":
        ss.arch_table_base, ss.arch_note = ss.arch_current, ""
        ss.arch_table_version += 1
    elif (design := design_of(ss.arch_current)) is not None:
        _seed_design(design)
    else:
        ss.arch_note = "The layer list is not a stack of identical blocks: the block controls show the last block design."


def _on_import() -> None:
    upload = ss.get("arch_import_file")
    text = upload.getvalue().decode("utf-8", "replace") if upload is not None else ss.get("arch_import_text", "")
    ds = current_dataset()
    try:
        spec = ModelSpec.from_json(text)
    except ValueError as exc:
        ss.arch_import_error = f"Could not import this spec: {exc}"
        return
    ss.arch_import_error = ""
    note = ""
    if (spec.input, spec.num_classes) != (ds.input_shape, ds.num_classes):
        spec = spec.with_io(ds.input_shape, ds.num_classes)
        note = f"Imported, and adapted to the dataset: input {shape_text(ds.input_shape)}, {ds.num_classes} classes."
    _use_spec(spec, note or "Imported.")


def _start(io: tuple) -> None:
    """Bring back this session's design (Streamlit forgets widgets when a page is left); on the first visit,
    start from the link's preset or SimpleCNN; follow a new dataset's input shape and classes."""
    if "arch_current" not in ss:
        ss.arch_preset = st.query_params.get("arch") if st.query_params.get("arch") in PRESETS else "simple_cnn"
        ss.arch_mode = "blocks"
        _seed_design(BlockDesign())
        _use_spec(preset(ss.arch_preset, *io))
    for key, value in ss.get("arch_saved", {}).items():
        seed_widget(key, value)
    if ss.get("arch_io", io) != io:
        _use_spec(ss.arch_current.with_io(*io), f"Adapted to the dataset: input {shape_text(io[0])}, {io[1]} classes.")
    elif ss.arch_mode == "layers" and f"arch_table_{ss.arch_table_version}" not in ss:
        ss.arch_table_base = ss.arch_current  # back on the page: the table's edits are in arch_current
    ss.arch_io = io


def _save() -> None:
    """Remember the widgets' values for the next visit."""
    keep = {f"arch_{f}" for f in ("preset", "mode", *BLOCK_FIELDS)}
    ss.arch_saved = {k: ss[k] for k in list(ss.keys()) if k in keep or k.startswith("arch_ch_")}


def start_ui() -> str:
    sb = st.sidebar
    sb.header("Architecture")
    sb.selectbox("Start from a preset", list(PRESETS), key="arch_preset", on_change=_on_preset,
                 format_func=lambda name: PRESETS[name][0],
                 help="A known network, adapted to the dataset's image size and classes. Some break on small images: "
                 "the table shows where and why.")  # fmt: skip
    return sb.radio("Edit", ("blocks", "layers"), key="arch_mode", on_change=_on_mode, horizontal=True,
                    format_func={"blocks": "by blocks", "layers": "layer by layer"}.get,
                    help="Blocks: a few knobs that rebuild the whole network. Layer by layer: a table of every layer.")


def block_ui() -> dict:
    """The block knobs in the sidebar; returns BlockDesign's fields."""
    sb = st.sidebar
    n = sb.slider("Conv blocks", 1, MAX_BLOCKS, key="arch_num_blocks",
                  help="Each block is conv → (batch norm) → activation → (downsampling) → (dropout).")
    cols = sb.columns(min(n, 4))
    for i in range(n):
        ss.setdefault(f"arch_ch_{i}", min(2 * ss.get(f"arch_ch_{i - 1}", 16), 512))
        cols[i % 4].number_input(f"Block {i + 1}", 1, 1024, key=f"arch_ch_{i}",
                                 help="Output channels (filters) of this block's convolution.")
    sb.select_slider("Kernel size", (1, 3, 5, 7), key="arch_kernel_size",
                     help="The side of each conv filter; padding kernel // 2 keeps the image size.")
    sb.radio("Downsampling", DOWNSAMPLING, key="arch_downsample", format_func=DOWNSAMPLE_LABELS.get,
             help="How a block halves the image's height and width.")
    sb.checkbox("Last block halves too", key="arch_downsample_last",
                help="Off: the last block keeps its size and the head's pooling shrinks it.")
    sb.checkbox("Batch norm", key="arch_batch_norm", help="Normalise each conv's output: training is steadier.")
    sb.selectbox("Activation", ACTIVATIONS, key="arch_activation", help="The non-linearity after each conv.")
    sb.slider("Block dropout (Dropout2d)", 0.0, 0.9, step=0.05, key="arch_dropout",
              help="Share of whole channels switched off in training, after each halving block; 0 = none.")
    sb.subheader("Head")
    sb.number_input("Pool to (pixels a side)", 0, 16, key="arch_head_pool",
                    help="Adaptive average pooling to this size before flattening; 0 = none.")
    sb.number_input("Hidden width", 0, 4096, key="arch_hidden", help="Width of the hidden linear layer; 0 = none.")
    sb.slider("Head dropout", 0.0, 0.9, step=0.05, key="arch_head_dropout",
              help="Share of the hidden features dropped in training; 0 = none.")
    values = {field: ss[f"arch_{field}"] for field in BLOCK_FIELDS}
    values["channels"] = tuple(int(ss[f"arch_ch_{i}"]) for i in range(n))
    values.update(dropout=float(values["dropout"]), head_dropout=float(values["head_dropout"]))
    return values


def layer_table_ui():
    st.caption("Edit any cell, add rows at the bottom or delete them. Cells a layer type doesn't take are ignored.")
    return st.data_editor(table_frame(ss.arch_table_base), key=f"arch_table_{ss.arch_table_version}",
                          num_rows="dynamic", hide_index=False, column_config=table_column_config(),
                          width="stretch")  # fmt: skip


def export_ui(spec: ModelSpec, summary: Summary) -> None:
    json_text = spec.to_json(indent=2)
    left, right = st.columns(2)
    with left:
        st.download_button("Download JSON", json_text, file_name="model_spec.json", mime="application/json",
                           on_click="ignore", help="The spec in CNN Lab's JSON format: import it here or use "
                           "it with `python -m cnn_core summary --arch model_spec.json`.")  # fmt: skip
        st.code(json_text, language="json")
    with right:
        if summary.ok:
            code = generate_code(spec)
            st.download_button("Download PyTorch code", code, file_name="net.py", mime="text/x-python",
                               on_click="ignore", help="A runnable nn.Module class with the same layers.")
            st.code(code, language="python")
        else:
            st.info("Fix the network first: code is generated only for a network that works.")


def import_ui() -> None:
    st.file_uploader("JSON file", type=["json"], key="arch_import_file",
                     help="A spec exported from this page, or written by hand in the same format.")
    st.text_area("…or paste JSON", key="arch_import_text", height=120,
                 placeholder='{"input": [3, 32, 32], "num_classes": 4, "layers": [{"type": "flatten"}, '
                 '{"type": "linear", "out_features": 4}]}', help="The format of *Download JSON*.")  # fmt: skip
    st.button("Import", on_click=_on_import, key="arch_import", help="Replace the network with this spec.")
    if ss.get("arch_import_error"):
        st.error(ss.arch_import_error)


st.title("Architecture")
st.markdown(
    "Design a CNN and see, as you change it, what every layer does to the image: its **shape**, how many "
    "**parameters** it learns, how much arithmetic (**MACs**, multiply-accumulates) it costs and how much of the "
    "image each output can see (its **receptive field**). If the design breaks, the table shows where and why."
)
ds = current_dataset()
io = (ds.input_shape, ds.num_classes)
_start(io)
mode = start_ui()
st.caption(f"Input: {shape_text(ds.input_shape)} images from the current dataset, {ds.num_classes} classes. "
           "SimpleCNN on 3×32×32 images and 4 classes has **619,268** parameters, exactly what PyTorch counts "
           "(the figure of about 540,000 that circulates is wrong).")  # fmt: skip
if note := ss.pop("arch_note", ""):
    st.info(note)

spec = None
try:
    if mode == "blocks":
        spec = BlockDesign(**block_ui()).to_spec(*io)
    else:
        spec = spec_from_table(layer_table_ui(), *io)
except SpecError as exc:
    st.error(f"Row {exc.index} ({exc.layer_type}): {exc.reason}")
except ValueError as exc:
    st.error(f"{exc}.")
if spec is None:
    spec = ss.arch_current
    st.warning("Showing the last network that could be built.")
ss.arch_current = spec
_save()
summary = summarize(spec)
if summary.ok:
    ss[MODEL_SPEC] = spec
else:
    where = f"layer {summary.error.index} ({summary.error.layer_type})" if summary.error.index >= 0 else "the network"
    kept = "the last valid one" if ss.get(MODEL_SPEC) else "none yet"
    st.error(f"**This network breaks at {where}:** {summary.error.reason}. The Training page keeps {kept}.")

draw_totals(summary)
draw_shape_flow(summary)
draw_summary_table(summary)
tabs = st.tabs(["Size formulas", "Parameters and MACs", "Export", "Import"])
with tabs[0]:
    draw_formulas(summary)
with tabs[1]:
    draw_cost_chart(summary)
with tabs[2]:
    export_ui(spec, summary)
with tabs[3]:
    import_ui()
