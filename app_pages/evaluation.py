from functools import partial

import streamlit as st

from cnn_core.data.image_store import MissingImages  # your own images (the "images" work)
from cnn_core.inspection.evaluate import Evaluation, check_compatible, report
from cnn_core.inspection.interpret import conv_blocks, conv_filters, prepare_image
from cnn_core.runs.checkpoint import load_checkpoint
from cnn_core.training.device import detect_device
from cnn_core.training.run import TrainedRun
from ui.board_views import shown_names
from ui.device import sidebar_device
from ui.echo import plain
from ui.eval_interpret import (
    describe_layer,
    draw_explanation,
    draw_feature_maps,
    draw_filters,
    draw_probabilities,
    explain_ui,
    filter_ui,
)
from ui.eval_runs import (
    block_maps,
    cached_run_ui,
    embedding,
    evaluation,
    explanation,
    friendly_stop,
    probabilities,
    run_key,
    run_label,
    session_model,
    status_note,
)
from ui.eval_scores import draw_confusion, draw_curves, draw_embedding, draw_mistakes, draw_report, draw_summary
from ui.jobs import shared_cache
from ui.lesson.presenting import intro
from ui.lesson.session import presenting
from ui.my_images import ask_for_images  # your own images (the "images" work)
from ui.reset import reset_button
from ui.state import shared_dataset

UPLOADED = "eval_uploaded"  # session key: (upload id, TrainedRun) of the last checkpoint that loaded
SOURCES = {"active": "The model from the Training page", "session": "Another run of this session",
           "cache": "A cached run on this server", "upload": "A checkpoint file (.pt)"}  # fmt: skip
IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]


def device_ui():
    """The device the model runs on, shown with the PyTorch version in the sidebar."""
    sidebar_device()
    return detect_device()


def run_source_ui() -> TrainedRun | None:
    """The run to evaluate: the active one, one of this session's, a server run, or an uploaded checkpoint.

    A session with no run of its own starts on nothing: another learner's run is only ever chosen."""
    active, runs = st.session_state.get("active_run"), st.session_state.get("runs") or []
    cached = shared_cache().listing()
    options = [s for s, ok in (("active", active is not None), ("session", bool(runs)), ("cache", bool(cached)),
                               ("upload", True)) if ok]  # fmt: skip
    source = st.sidebar.radio("Model to evaluate", options, format_func=SOURCES.get, key="ev_source",
                              index=None if options[0] == "cache" else 0,
                              help="The Training page makes its latest model the active one. Earlier runs of this "
                              "session, runs trained on this server, or a checkpoint you downloaded before can be "
                              "evaluated too.")  # fmt: skip
    if source == "active":
        return active
    if source == "session":
        i = st.sidebar.selectbox("Run", range(len(runs)), index=len(runs) - 1, key="ev_run",
                                 format_func=lambda i: run_label(runs[i], i + 1),
                                 help="The runs trained in this browser session, oldest first.")  # fmt: skip
        return runs[i]
    if source == "cache":
        return cached_run_ui(cached, shared_cache(), shown_names(cached))
    if source is None:
        return None
    file = st.sidebar.file_uploader("Checkpoint (.pt)", type=["pt"], key="ev_checkpoint",
                                    help="A checkpoint downloaded from the Training page: the weights, the "
                                    "network and the dataset settings in one file.")  # fmt: skip
    held = st.session_state.get(UPLOADED)
    if file is not None and (held is None or held[0] != file.file_id):
        try:
            held = (file.file_id, load_checkpoint(file.getvalue()))
            st.session_state[UPLOADED] = held
        except ValueError as exc:
            kept = " Still showing the last checkpoint that loaded." if held else ""
            st.error(f"**{plain(file.name)}** can't be used: {plain(exc)}.{kept}")
    return held[1] if held else None


def image_ui(ev: Evaluation) -> int:
    """Which held-out image the feature maps and Grad-CAM look at: its position in the evaluated split, the one
    numbering of the page (captions, mistakes, Grad-CAM, embedding)."""
    n = len(ev.labels)
    pos = st.sidebar.number_input(f"{ev.split_name.capitalize()} image to look inside (0 to {n - 1})", 0, n - 1, 0,
                                  key="ev_image_pos", help=f"One of the {n} {ev.split_name} images, numbered as in the "
                                  "Mistakes tab. The Feature maps and Grad-CAM tabs show what the network does with it.")
    true, pred = plain(ev.classes[ev.labels[pos]]), plain(ev.classes[ev.preds[pos]])
    st.sidebar.caption(f"{ev.name(pos).capitalize()}: a **{true}**, predicted **{pred}** ({ev.confidence[pos]:.0%})")
    return int(pos)


st.title("Evaluation")
reset_button("ev_")
intro(
    "A network is only as good as its answers on images it **never trained on**. This page scores the model "
    "on the held-out test images, shows where it fails, and opens it up: its filters, what each block sees, "
    "and which pixels decided its answer."
)
device = device_ui()
run = run_source_ui()
if run is None:
    others = "a run trained on this server (by you or another learner) or " if shared_cache().listing(1) else ""
    friendly_stop(f"No model of yours to evaluate yet. Train one on the Training page, or choose one in the "
                  f"sidebar: {others}a checkpoint file (.pt).")
try:
    ds = shared_dataset(run.data_config)
    check_compatible(run.spec, ds)
    key = run_key(run)
    model = partial(session_model, run, device)  # built when a tab (or an evaluation not cached yet) needs it
    ev = evaluation(key, model, ds, run.held_out if device.type == "cpu" else None)  # done by its worker: on the CPU
    run.held_out = None  # now in the shared cache: the session need not hold it
except MissingImages as exc:  # your own images, not in this session: ask for them (the "images" work)
    ask_for_images(exc)
    st.stop()
except (ValueError, RuntimeError) as exc:
    st.error(f"This model can't be evaluated: {plain(exc)}. Choose another model in the sidebar, or train again.")
    st.stop()
if note := status_note(run):
    st.warning(note)
if ev.notice:
    st.warning(ev.notice[0].upper() + ev.notice[1:] + ".")
rep = report(ev.labels, ev.preds, ev.classes)
draw_summary(run, ev, rep)
pos = image_ui(ev)
image, image_id = ds.images[ev.indices[pos]], f"{ev.split}:{ev.indices[pos]}"
has_conv = bool(conv_blocks(run.spec))

# Only the open tab runs (and is sent): a first visit computes the scores, not the filters, maps, Grad-CAM and embedding.
tabs = st.tabs(["Scores", "Mistakes", "Filters", "Feature maps", "Grad-CAM", "Your image", "Embedding", "Training"],
               key="ev_tab", on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        normalise = st.toggle("Show each true class as shares (rows add up to 100%)", key="ev_normalise",
                              help="Counts depend on how many images a class has; shares compare classes fairly.")
        # Side by side on a screen; one under the other in presenting mode, where half a width clips the report.
        left, right = (st.container(), st.container()) if presenting() else st.columns(2)
        with left:
            draw_confusion(ev, normalise)
        with right:
            draw_report(rep)
if tabs[1].open:
    with tabs[1]:
        limit = st.slider("Mistakes to show", 4, 48, 12, step=4, key="ev_mistakes_n",
                          help="The most confident mistakes come first.")
        draw_mistakes(ds, ev, limit)
if tabs[2].open:
    with tabs[2]:
        if not has_conv:
            st.info("This network has no conv layers, so it has no filters to show.")
        else:
            layer, channel, rgb = filter_ui(run)
            draw_filters(conv_filters(model(), layer), describe_layer(run, layer), channel, rgb)
if tabs[3].open:
    with tabs[3]:
        if not has_conv:
            st.info("This network has no conv blocks, so there are no feature maps to show.")
        else:
            per_block = st.slider("Maps per block", 4, 64, 16, step=4, key="ev_maps_n",
                                  help="How many channels of each block to show, the most active first.")
            blocks = conv_blocks(run.spec)
            draw_feature_maps(run, blocks, block_maps(key, image_id, tuple(blocks), model(), image), per_block, image)
if tabs[4].open:
    with tabs[4]:
        st.caption("Grad-CAM colours the regions whose features raised the chosen class's score (red: most); "
                   "saliency marks the pixels whose change would move that score most. Does the model look at the "
                   "shape itself, or at its colour, its surroundings, the background?")  # fmt: skip
        if not has_conv:
            st.info("Grad-CAM needs a conv layer: this network has none.")
        else:
            target, layer = explain_ui(run, ev, pos)
            target = int(ev.preds[pos]) if target < 0 else target
            cam, sal = explanation(key, image_id, target, layer, model(), image)
            true, pred = ev.classes[ev.labels[pos]], ev.classes[ev.preds[pos]]
            title = f"{ev.name(pos)}: a {true}, predicted {pred}; explaining {ev.classes[target]}"
            draw_explanation(image, cam, sal, title, key="ev_cam_chart")
            draw_probabilities(ev.probs[pos], ev.classes, key="ev_cam_probs")
if tabs[5].open:
    with tabs[5]:
        c, h, w = run.spec.input
        st.caption(f"Try the model on an image of your own. It is converted to what the model reads ({c}×{h}×{w}), "
                   "and you see each change made. A model only knows its own classes: anything else still gets one.")
        upload = st.file_uploader("An image", type=IMAGE_TYPES, key="ev_upload_image",
                                  help="PNG, JPEG, GIF, BMP or WebP, up to the server's upload limit.")
        invert = st.checkbox("Invert colours", key="ev_invert",
                             help="The dataset's images are light on a dark background; a photo of ink on paper is "
                             "the opposite, so invert it.")  # fmt: skip
        if upload is not None:
            try:
                mine, notices = prepare_image(upload.getvalue(), run.spec.input, invert)
            except ValueError as exc:
                st.error(f"**{plain(upload.name)}**: {plain(exc)}.")
            else:
                for notice in notices:
                    st.info(f"Your image was changed: {notice}.")
                probs = probabilities(model(), mine)
                if has_conv:
                    mine_id = f"upload:{upload.file_id}:{invert}"
                    cam, sal = explanation(key, mine_id, int(probs.argmax()), conv_blocks(run.spec)[-1], model(), mine)
                    title = f"your image, predicted {ev.classes[int(probs.argmax())]}"
                    draw_explanation(mine, cam, sal, title, key="ev_upload_chart")
                draw_probabilities(probs, ev.classes, key="ev_upload_probs")
if tabs[6].open:
    with tabs[6]:
        method = st.radio("Method", ["pca", "tsne"], key="ev_embedding", horizontal=True,
                          format_func={"pca": "PCA (instant)", "tsne": "t-SNE (a few seconds)"}.get,
                          help="PCA keeps the two directions of largest spread: distances are faithful. t-SNE keeps "
                          "neighbours together: clusters are clearer but distances between them mean little.")  # fmt: skip
        try:
            coords, positions = embedding(key, method, ev.features)
        except ValueError as exc:
            st.info(f"No embedding: {exc}.")
        else:
            draw_embedding(ev, coords, positions, method)
if tabs[7].open:
    with tabs[7]:
        draw_curves(run.history)
