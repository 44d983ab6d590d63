import streamlit as st

from cnn_core.nets.layers import MISSING_HEAD
from cnn_core.nets.presets import default_rule, network
from cnn_core.nets.shapes import shape_text
from cnn_core.nets.summary import summarize
from cnn_core.training.config import TrainConfig
from ui import arch_editor as editor
from ui.arch_flow import draw_shape_flow
from ui.arch_views import (
    draw_cost_chart,
    draw_formulas,
    draw_summary_table,
    draw_totals,
    spec_summary,
)
from ui.lesson.presenting import intro
from ui.reset import reset_button
from ui.server import draw_verdict, network_verdict
from ui.state import current_dataset
from ui.train_widgets import SAVED


@st.cache_data
def reference_count() -> int:
    """SimpleCNN's parameters on the classic task (3×32×32 images, 4 classes), as our calculator counts them."""
    return summarize(network("simple_cnn")).total_params


st.title("Architecture")
reset_button("arch_", also=("model_spec",))
intro(
    "Design a CNN and see, as you change it, what every layer does to the image: its **shape**, how many "
    "**parameters** it learns, how much arithmetic (**MACs**, multiply-accumulates) it costs and how much of the "
    "image each output can see (its **receptive field**). If the design breaks, the table shows where and why."
)
ds = current_dataset()
io = editor.start(ds)
mode = editor.start_ui(io)
st.caption(f"Input: {shape_text(ds.input_shape)} images from the current dataset, {ds.num_classes} classes. "
           f"Until you change it, the network is the dataset's default ({default_rule()}); the Training page "
           f"trains the network shown here. SimpleCNN on 3×32×32 images and 4 classes has "
           f"**{reference_count():,}** parameters, exactly what PyTorch counts (the figure of about "
           "540,000 that circulates is wrong).")  # fmt: skip
for note in editor.notes():
    st.info(note)

status = st.container()  # above the layer table, so that a design that breaks says so where the learner looks
spec = editor.edited_spec(mode, io)
summary = spec_summary(spec)  # shared by every session that shows this spec
kept = editor.publish(summary)
with status:
    if summary.ok:
        draw_totals(summary)
        batch = st.session_state.get(SAVED, {}).get("batch_size") or TrainConfig().batch_size  # the Training page's
        draw_verdict(network_verdict(spec, batch), "The Training page will not train it.")
    else:
        error = summary.error
        where = ("the end: the head is missing" if error.layer_type == MISSING_HEAD else
                 f"layer {error.index} ({error.layer_type})" if error.index >= 0 else "the network")  # fmt: skip
        st.error(f"**This network breaks at {where}:** {error.reason}. No totals until it works; the Training page "
                 f"keeps {kept}.")
    for warning in summary.warnings:
        st.warning(warning)
draw_shape_flow(summary)
draw_summary_table(summary)
# Only the open tab runs (and is sent): a change of the network draws the formulas, not the chart, code and import.
tabs = st.tabs(["Size formulas", "Parameters and MACs", "Export", "Import"], key="arch_tab", on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        draw_formulas(summary)
if tabs[1].open:
    with tabs[1]:
        draw_cost_chart(summary)
if tabs[2].open:
    with tabs[2]:
        editor.export_ui(spec, summary)
if tabs[3].open:
    with tabs[3]:
        editor.import_ui(io)
