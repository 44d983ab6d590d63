"""The Architecture page's editor: its widgets (preset, blocks, layer table, import, export) and the session
state behind them, so that a design survives leaving the page and follows a new dataset."""

from __future__ import annotations

import streamlit as st

from cnn_core.nets.blocks import DOWNSAMPLING, MAX_BLOCKS, BlockDesign, design_of
from cnn_core.nets.layers import ACTIVATIONS, SpecError
from cnn_core.nets.presets import NETWORKS, default_for, default_rule, network
from cnn_core.nets.shapes import shape_text
from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import Summary
from ui.arch_views import spec_code, spec_from_table, table_column_config, table_frame
from ui.echo import plain
from ui.lesson.session import NETWORK_STATE as LESSON_NETWORK
from ui.state import seed_widget

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


def _on_preset(io: tuple) -> None:
    _use_spec(network(ss.arch_preset, *io))
    st.query_params["arch"] = ss.arch_preset


def _on_mode() -> None:
    if ss.arch_mode == "layers":
        ss.arch_table_base, ss.arch_note = ss.arch_current, ""
        ss.arch_table_version += 1
    elif (design := design_of(ss.arch_current)) is not None:
        _seed_design(design)
    else:
        ss.arch_note = "The layer list is not a stack of identical blocks: the block controls show the last block design."


def _on_import(io: tuple) -> None:
    upload = ss.get("arch_import_file")
    text = upload.getvalue().decode("utf-8", "replace") if upload is not None else ss.get("arch_import_text", "")
    if not text.strip():
        ss.arch_import_error = "Nothing to import: paste a spec or choose a JSON file first."
        return
    try:
        spec = ModelSpec.from_json(text)
    except ValueError as exc:
        ss.arch_import_error = f"Could not import this spec: {exc}"
        return
    ss.arch_import_error = ""
    note = "Imported."
    if (spec.input, spec.num_classes) != io:
        spec = spec.with_io(*io)
        note = f"Imported, and adapted to the dataset: input {shape_text(io[0])}, {io[1]} classes."
    _use_spec(spec, note)


def _first_network(io: tuple, data_config) -> ModelSpec:
    """The lesson's network (a link's `arch=` or block design, or a board run's *Load its settings*), else the
    dataset's default; the preset picker shows the preset it came from. A link's bad `arch=` was noted when the link
    was read (ui.lesson.params), so it isn't noted again here."""
    linked = ss.get(LESSON_NETWORK)
    ss.arch_preset = linked if isinstance(linked, str) and linked in NETWORKS else default_for(data_config)
    if isinstance(linked, BlockDesign):
        return linked.to_spec(*io)
    if isinstance(linked, ModelSpec):  # a board run that is not a stack of blocks
        return linked.with_io(*io)
    return network(ss.arch_preset, *io)


def start(ds) -> tuple:
    """Bring back this session's design (Streamlit forgets widgets when a page is left); on the first visit, start
    from the lesson's network or the dataset's default; follow a new dataset's input shape and classes."""
    io = (ds.input_shape, ds.num_classes)
    if "arch_current" not in ss:
        ss.arch_mode = "blocks"
        _seed_design(BlockDesign())
        _use_spec(_first_network(io, ds.config))
    for key, value in ss.get("arch_saved", {}).items():
        seed_widget(key, value)
    if ss.get("arch_io", io) != io:
        _use_spec(ss.arch_current.with_io(*io), f"Adapted to the dataset: input {shape_text(io[0])}, {io[1]} classes.")
    elif ss.arch_mode == "layers" and f"arch_table_{ss.arch_table_version}" not in ss:
        ss.arch_table_base = ss.arch_current  # back on the page: the table's edits are in arch_current
    ss.arch_io = io
    return io


def notes() -> list[str]:
    """What the last action changed that the learner should know (shown once)."""
    return [text for text in (ss.pop("arch_note", ""),) if text]


def start_ui(io: tuple) -> str:
    sb = st.sidebar
    sb.header("Architecture")
    sb.selectbox("Start from a network", list(NETWORKS), key="arch_preset", on_change=_on_preset, args=(io,),
                 format_func=lambda name: NETWORKS[name].title,
                 help="A known network, adapted to the dataset's image size and classes. Some break on small images: "
                 f"the table shows where and why. Until you change it, each dataset starts with its own "
                 f"({default_rule()}).")  # fmt: skip
    return sb.radio("Edit", ("blocks", "layers"), key="arch_mode", on_change=_on_mode, horizontal=True,
                    format_func={"blocks": "by blocks", "layers": "layer by layer"}.get,
                    help="Blocks: a few knobs that rebuild the whole network. Layer by layer: a table of every layer.")


def block_ui() -> dict:
    """The block knobs in the sidebar; returns BlockDesign's fields."""
    sb = st.sidebar
    n = sb.slider("Conv blocks", 1, MAX_BLOCKS, key="arch_num_blocks",
                  help="Each block is conv → (batch norm) → activation → (downsampling) → (dropout).")
    cols = sb.columns(2)  # two a row: "Block 1" and its number fit without wrapping
    for i in range(n):
        ss.setdefault(f"arch_ch_{i}", min(2 * ss.get(f"arch_ch_{i - 1}", 16), 512))
        cols[i % 2].number_input(f"Block {i + 1}", 1, 1024, key=f"arch_ch_{i}",
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
                    help="Adaptive average pooling to this size before flattening; 0 = none. Larger than the map "
                    "that reaches it, it upsamples (repeats pixels): the page warns.")  # fmt: skip
    sb.number_input("Hidden width", 0, 4096, key="arch_hidden", help="Width of the hidden linear layer; 0 = none.")
    sb.slider("Head dropout", 0.0, 0.9, step=0.05, key="arch_head_dropout",
              help="Share of the hidden features dropped in training; 0 = none.")
    values = {field: ss[f"arch_{field}"] for field in BLOCK_FIELDS}
    values["channels"] = tuple(int(ss[f"arch_ch_{i}"]) for i in range(n))
    values.update(dropout=float(values["dropout"]), head_dropout=float(values["head_dropout"]))
    return values


def layer_table_ui():
    st.caption("Edit any cell, add rows at the bottom or delete them. Blank cells are arguments a layer type "
               "doesn't take (or leaves at its default). Hover a column's header for what it means.")  # fmt: skip
    return st.data_editor(table_frame(ss.arch_table_base), key=f"arch_table_{ss.arch_table_version}",
                          num_rows="dynamic", hide_index=False, column_config=table_column_config(),
                          placeholder="", width="stretch")  # fmt: skip


def edited_spec(mode: str, io: tuple) -> ModelSpec:
    """The spec the widgets describe now, or (after an error message) the last one that could be built."""
    spec = None
    try:
        spec = BlockDesign(**block_ui()).to_spec(*io) if mode == "blocks" else spec_from_table(layer_table_ui(), *io)
    except SpecError as exc:
        st.error(f"Row {exc.index} ({plain(exc.layer_type)}): {plain(exc.reason)}")
    except ValueError as exc:
        st.error(f"{plain(exc)}.")
    if spec is None:
        spec = ss.arch_current
        st.warning("Showing the last network that could be built.")
    ss.arch_current = spec
    keep = {f"arch_{f}" for f in ("preset", "mode", *BLOCK_FIELDS)}  # remembered for the next visit
    ss.arch_saved = {k: ss[k] for k in list(ss.keys()) if k in keep or k.startswith("arch_ch_")}
    return spec


def publish(summary: Summary) -> str:
    """Hand a working network to the Training page; for a broken one, what the Training page keeps instead."""
    if summary.ok:
        ss[MODEL_SPEC] = summary.spec
        return ""
    return "the last valid one" if ss.get(MODEL_SPEC) else "none yet"


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
            code = spec_code(spec.to_json(), spec)
            st.download_button("Download PyTorch code", code, file_name="net.py", mime="text/x-python",
                               on_click="ignore", help="A runnable nn.Module class with the same layers and layer "
                               "names as the model the Training page trains, so its checkpoint (.pt) loads into it.")
            st.caption("Train this network, download its checkpoint on the Training page, then "
                       "`python net.py checkpoint.pt image.png` classifies an image with it.")
            st.code(code, language="python")
        else:
            st.info("Fix the network first: code is generated only for a network that works.")


def import_ui(io: tuple) -> None:
    st.file_uploader("JSON file", type=["json"], key="arch_import_file",
                     help="A spec exported from this page, or written by hand in the same format.")
    st.text_area("…or paste JSON", key="arch_import_text", height=120,
                 placeholder='{"input": [3, 32, 32], "num_classes": 4, "layers": [{"type": "flatten"}, '
                 '{"type": "linear", "out_features": 4}]}', help="The format of *Download JSON*.")  # fmt: skip
    st.button("Import", on_click=_on_import, args=(io,), key="arch_import", help="Replace the network with this spec.")
    if ss.get("arch_import_error"):
        st.error(ss.arch_import_error)
