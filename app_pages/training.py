import streamlit as st
import torch

from cnn_core.nets.layers import SpecError
from cnn_core.nets.presets import NETWORKS, default_for, default_rule, network
from cnn_core.nets.shapes import infer_shapes, shape_text
from cnn_core.nets.summary import summarize
from cnn_core.training.advice import before_training
from cnn_core.training.config import TrainConfig
from cnn_core.training.device import available_devices, describe_device, detect_device
from cnn_core.training.run import run_key
from cnn_core.words import count
from ui.board_views import board_owner
from ui.echo import plain
from ui.jobs import live_interval, session_label, shared_manager
from ui.lesson.presenting import intro
from ui.reset import reset_button
from ui.server import draw_verdict, network_verdict
from ui.state import current_dataset, seed_widget
from ui.train_views import (
    draw_comparison,
    draw_downloads,
    draw_progress,
    draw_result,
    draw_runs,
    draw_warnings,
    link,
    name_ui,
    run_name,
)
from ui.train_widgets import SAVED, hyperparameters_ui, seed_train_widgets

JOB = "train_job"  # session key: the Job this session is waiting for
JOB_DATA = "train_job_data"  # session key: the key of the dataset that job trains on
STOP_NOTE = "train_stop_note"  # session key: what the last Stop did, shown once
LIVE_EVERY = "train_live_every"  # session key: seconds between two redraws of the live view (ui.jobs.live_interval)


def device_ui() -> str:
    sb = st.sidebar
    sb.header("Hardware")
    seed_widget("tr_device", st.session_state.get("train_device", "auto"))
    choice = sb.selectbox("Device", ["auto", *available_devices()], key="tr_device",
                          help="Where the maths runs: a CUDA GPU, Apple's MPS, or the CPU. auto takes the fastest.")
    st.session_state["train_device"] = choice
    manager = manager_or_stop()
    ex = manager.executor
    sb.caption(f"Training on **{describe_device(detect_device(choice), ex.threads)}** · PyTorch {torch.__version__}")
    where = (f"on the Ray cluster at {ex.address}" if ex.name == "ray"
             else f"{count(ex.max_runs, 'model')} at a time with {count(ex.threads, 'CPU thread')} each")  # fmt: skip
    sb.caption(f"This server trains {where}, each in a worker process of its own; {manager.queue_length()} waiting.")
    return choice


def manager_or_stop():
    """The server's training manager; a cluster that can't be reached is a clear stop."""
    try:
        return shared_manager()
    except ValueError as exc:
        st.error(f"Training is unavailable on this server: {exc}.")
        st.stop()


def model_for(ds):
    """The Architecture page's network moved onto this dataset, else the dataset's default (the same rule there)."""
    spec = st.session_state.get("model_spec")
    source = "your network from the Architecture page"
    if spec is None:
        name = default_for(ds.config)
        spec = network(name, ds.input_shape, ds.num_classes)
        source = f"**{NETWORKS[name].title}**, the default until you design one ({default_rule()})"
    return spec.with_io(ds.input_shape, ds.num_classes), source


def collect_finished() -> None:
    """A finished job becomes a run of this session and the active model."""
    job = st.session_state.get(JOB)
    if job is None or job.state not in ("done", "failed"):
        return
    del st.session_state[JOB]
    if job.state == "failed":  # shown while the dataset stays the one it failed on
        st.session_state["tr_error"] = (job.error, "stopped" if job.stopping else "failed",
                                        st.session_state.get(JOB_DATA, ""))
        return
    run = job.result()
    st.session_state["tr_store_problem"] = job.store_problem
    runs = st.session_state.setdefault("runs", [])
    same = next((i for i, r in enumerate(runs, 1) if r.run_id == run.run_id), None)
    if same is not None:  # the cache gave back a run this session already has: no identical "Run 2"
        st.toast(f"This exact configuration was trained before: {plain(run_name(runs[same - 1], same))} again.")
        run = runs[same - 1]
    else:
        if job.cached:
            run.summary["cached"] = True
        runs.append(run)
    st.session_state["active_run"] = run
    st.session_state["tr_active"] = runs.index(run) + 1


def live_job(config: TrainConfig) -> None:
    """The run's progress, redrawn every LIVE_EVERY seconds (a fragment: the rest of the page stays as it is)."""
    job = st.session_state.get(JOB)
    if job is None or job.state in ("done", "failed"):
        st.rerun()  # the whole page shows the result
    if live_interval(shared_manager().watchers()) != st.session_state.get(LIVE_EVERY):
        st.rerun()  # the class grew or shrank: the page starts this view again at the new pace
    draw_progress(job.snapshot(), config)
    if st.button("Stop", key="tr_stop", icon=":material/stop:", help="Stop now and keep the model trained so far."):
        others = len(job.owners - {session_label()})
        if shared_manager().stop(job, session_label()):
            st.session_state[STOP_NOTE] = "Stopped for everyone: no other tab or learner was waiting for this run."
        else:
            del st.session_state[JOB]
            st.session_state[STOP_NOTE] = (
                f"You left this run; it goes on for the {others} other tab{'s' * (others != 1)} or learner"
                f"{'s' * (others != 1)} training exactly these settings, and reaches the class board when it ends. "
                "Press Train to watch it again.")  # fmt: skip
        st.rerun()


def find_running(key: str) -> None:
    """After a reload (a new session) or in a second tab: the run of these exact settings still training on the
    server. This student's own run is taken back at once; another learner's can be watched."""
    job = shared_manager().running(key)
    if job is None or JOB in st.session_state:
        return
    if job.handle is not None and job.handle.request.who == board_owner():
        st.session_state[JOB_DATA] = ds.config.key()
        st.session_state[JOB] = job
        st.info("Your run of these settings is still training: here it is again.", icon=":material/sync:")
    else:
        st.info("Another learner is training exactly these settings right now: press Train to watch it with them "
                "(it trains once, for all of you).", icon=":material/group:")


st.title("Training")
reset_button("tr_", also=(SAVED, "tr_defaults_for"))
intro(
    "Training shows the network labelled images, measures how wrong it is (the **loss**) and nudges every "
    "weight to make it a little less wrong. Watch the loss fall and the **validation accuracy** (on images "
    "it never trains on) rise. Pick the settings below, or just press **Train**.")  # fmt: skip
ds = current_dataset()
device = device_ui()
spec, source = model_for(ds)
try:
    infer_shapes(spec)
except SpecError as exc:
    st.error(f"Your network doesn't fit this dataset ({ds.config.dataset}, "
             f"{shape_text(ds.input_shape)} images, {ds.num_classes} classes): {exc}")  # fmt: skip
    link("app_pages/architecture.py", "Architecture: fix the network")
    st.stop()
st.caption(f"Model: {source}, {len(spec.layers)} layers, for {ds.num_classes} classes of "
           f"{shape_text(ds.input_shape)} images. Dataset: {ds.config.dataset}, "
           f"{len(ds.splits['train'])} training and {len(ds.splits['val'])} validation images.")  # fmt: skip

action = st.container(key="tr_action")  # Train and its progress above the settings: in view at 1400×900
seed_train_widgets(ds)
values = hyperparameters_ui()
collect_finished()
try:
    config = TrainConfig(**values)
except ValueError as exc:
    st.error(f"{plain(exc)}.")
    st.stop()

with action:
    find_running(run_key(ds.config, spec, config, device))
    if note := st.session_state.pop(STOP_NOTE, None):
        st.info(note, icon=":material/stop_circle:")
    draw_warnings(before_training(config.optimizer, config.lr, len(ds.splits["train"]), len(ds.splits["val"]),
                                  list(summarize(spec).warnings)))
    verdict = network_verdict(spec, config.batch_size)  # before anything is built: the server's memory plan
    draw_verdict(verdict, "Train is off until it fits: change the network on the Architecture page, or the batch size.")
    too_large = verdict is not None and verdict.refused
    if st.button("Train", type="primary", icon=":material/play_arrow:", key="tr_train",
                 disabled=JOB in st.session_state or too_large,
                 help="Train in the background: you may visit other pages meanwhile. If this exact configuration "
                 "was trained before on this server, the result comes back at once."):  # fmt: skip
        st.session_state.pop("tr_error", None)
        st.session_state[JOB_DATA] = ds.config.key()
        st.session_state[JOB] = shared_manager().submit(spec, ds, config, device, who=session_label(),
                                                        name=board_owner())  # fmt: skip
        st.rerun()  # redraw with the Train button disabled
    if JOB in st.session_state:
        shared_manager().join(st.session_state[JOB], session_label())  # back after a reconnect: count this tab again
        every = st.session_state[LIVE_EVERY] = live_interval(shared_manager().watchers())
        st.fragment(live_job, run_every=every)(st.session_state[JOB].config)
    error, kind, dataset_key = st.session_state.get("tr_error", ("", "", ""))
    if error and dataset_key == ds.config.key():
        st.warning(f"Training {plain(error)}.") if kind == "stopped" else st.error(f"Training failed: {plain(error)}")
    if problem := st.session_state.get("tr_store_problem"):  # trained, but the server's disk did not keep it
        st.warning(f"Your run trained, but {plain(problem)}. Download its checkpoint below to keep it.",
                   icon=":material/save:")

runs = st.session_state.get("runs", [])
if runs:
    st.subheader("This session's runs")
    active = st.session_state.get("active_run")
    if st.session_state.get("tr_active") not in range(1, len(runs) + 1):
        st.session_state["tr_active"] = next((i for i, r in enumerate(runs, 1) if r is active), len(runs))
    left, right = st.columns(2)
    number = left.selectbox("Active model (used by the Evaluation page)", range(1, len(runs) + 1), key="tr_active",
                            format_func=lambda i: f"{run_name(runs[i - 1], i)}: "
                            f"{runs[i - 1].summary['val_acc']:.1%} validation accuracy",
                            help="The model that the next pages evaluate and explain.")  # fmt: skip
    st.session_state["active_run"] = chosen = runs[number - 1]
    with right:
        name_ui(chosen, number)
    draw_result(chosen)
    draw_runs(runs, chosen)
    draw_comparison(runs)
    draw_downloads(chosen, number)
    st.divider()
    link("app_pages/evaluation.py", "Evaluation: see how the active model does on the test images")
