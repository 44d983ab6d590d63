import streamlit as st
import torch

from cnn_core.device import available_devices, describe_device, detect_device
from cnn_core.spec import SpecError, infer_shapes, preset
from cnn_core.train import OPTIMIZERS, SCHEDULES, TrainConfig, suggested_config
from ui.jobs import session_label, shared_manager
from ui.state import current_dataset, seed_widget
from ui.train_views import draw_downloads, draw_progress, draw_result, draw_runs, link

JOB = "train_job"  # session key: the Job this session is waiting for
SAVED = "train_values"  # session key: the hyperparameters chosen, kept while on other pages
LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
FIELDS = [f for f in TrainConfig.__dataclass_fields__]
DEFAULT_PRESET = {"shapes": "simple_cnn", "digits": "digits_small"}


def seed_train_widgets(ds) -> None:
    """Defaults suited to this dataset; the learner's own choices come back until the dataset changes."""
    saved = st.session_state.get(SAVED)
    fresh = saved is None or st.session_state.get("tr_defaults_for") != ds.config.key()
    if fresh:
        saved = st.session_state[SAVED] = suggested_config(ds.config).to_dict()
        st.session_state["tr_defaults_for"] = ds.config.key()
    for name, value in saved.items():
        if fresh:
            st.session_state[f"tr_{name}"] = value
        else:
            seed_widget(f"tr_{name}", value)


def optimizer_ui() -> None:
    st.selectbox("Optimizer", OPTIMIZERS, key="tr_optimizer", format_func={"sgd": "SGD (momentum, Nesterov)",
                 "adam": "Adam", "adamw": "AdamW"}.get,
                 help="How the weights move downhill on the loss. SGD takes plain steps (momentum smooths them); "
                 "Adam scales each weight's step by how noisy its gradient has been, which works well with little "
                 "tuning; AdamW is Adam with weight decay applied directly to the weights.")  # fmt: skip
    st.select_slider("Learning rate", LRS, key="tr_lr", format_func=lambda v: f"{v:g}",
                     help="The size of each step. Too small: learning crawls. Too large: the loss jumps around or "
                     "explodes (try 3 or 10 to watch it diverge). Adam likes about 0.001, SGD about 0.01–0.1.")
    st.slider("Momentum", 0.0, 0.99, step=0.01, key="tr_momentum", disabled=st.session_state.tr_optimizer != "sgd",
              help="SGD only: how much of the previous step carries into the next, like a ball rolling downhill.")
    st.select_slider("Weight decay", DECAYS, key="tr_weight_decay", format_func=lambda v: f"{v:g}",
                     help="Pulls every weight a little toward zero at each step, so the network prefers small, "
                     "simple weights: a guard against overfitting.")


def schedule_ui() -> None:
    st.selectbox("Schedule", SCHEDULES, key="tr_schedule",
                 format_func={"none": "constant", "step": "step", "cosine": "cosine", "one_cycle": "one-cycle"}.get,
                 help="How the learning rate changes during training. Big steps early find a good region; small "
                 "steps late settle into it. Step: cut it every few epochs. Cosine: glide down along a cosine. "
                 "One-cycle: warm up to the rate, then anneal far below it. Watch the learning-rate curve.")  # fmt: skip
    step = st.session_state.tr_schedule == "step"
    st.number_input("Step every (epochs)", 1, 100, key="tr_step_size", disabled=not step,
                    help="Step schedule: the number of epochs between two cuts of the learning rate.")
    st.slider("Cut factor", 0.05, 1.0, step=0.05, key="tr_gamma", disabled=not step,
              help="Step schedule: each cut multiplies the learning rate by this (0.5 halves it).")


def loop_ui() -> None:
    st.select_slider("Batch size", (8, 16, 32, 64, 128, 256), key="tr_batch_size",
                     help="Images per update. Small batches give noisy but frequent steps (they regularise); big "
                     "batches give smooth steps and fewer of them per epoch.")
    st.slider("Epochs", 1, 100, key="tr_epochs",
              help="One epoch shows every training image to the network once.")
    st.slider("Early-stopping patience", 0, 20, key="tr_patience",
              help="Stop when the validation loss hasn't improved for this many epochs, and keep the best "
              "epoch's weights. 0 trains every epoch.")
    st.slider("Label smoothing", 0.0, 0.3, step=0.05, key="tr_label_smoothing",
              help="Aim for 90% sure instead of 100% (at 0.1): the network is punished for over-confidence.")


def augment_ui() -> None:
    st.caption("Random changes to each training batch: the network sees a new variant of every image each epoch, "
               "so it must learn what matters rather than memorise.")
    st.slider("Rotation (degrees)", 0, 45, step=5, key="tr_rotation",
              help="Turn images by a random angle up to this, either way.")
    st.checkbox("Horizontal flip", key="tr_hflip", help="Mirror half the images left to right.")
    st.slider("Translation", 0.0, 0.3, step=0.05, key="tr_translate",
              help="Shift images by up to this fraction of their size.")
    st.slider("Crop scale", 0.3, 1.0, step=0.05, key="tr_crop_scale",
              help="Cut out a random region with at least this share of the area and stretch it back. 1 = off.")
    st.slider("Colour jitter", 0.0, 0.5, step=0.05, key="tr_color_jitter",
              help="Randomly change brightness, contrast and saturation by up to this share.")


def hyperparameters_ui() -> dict:
    cols = st.columns(3)
    with cols[0].container(border=True):
        st.markdown("**Optimizer**")
        optimizer_ui()
    with cols[1].container(border=True):
        st.markdown("**Learning-rate schedule**")
        schedule_ui()
    with cols[2].container(border=True):
        st.markdown("**Training loop**")
        loop_ui()
    with st.expander("Data augmentation", expanded=False):
        augment_ui()
    with st.expander("Precision and seed", expanded=False):
        st.radio("Precision", ("auto", "fp32", "bf16"), key="tr_precision", horizontal=True,
                 help="fp32: full 32-bit floats. bf16: mixed precision (16-bit brain floats for the heavy maths, "
                 "32-bit weights), about twice as fast on hardware that has it. auto picks bf16 there.")
        st.number_input("Training seed", 0, 2**31 - 1, key="tr_seed",
                        help="The same seed gives the same starting weights, order and dropout, so the same result.")
    values = {name: st.session_state[f"tr_{name}"] for name in FIELDS}
    values["rotation"] = float(values["rotation"])
    st.session_state[SAVED] = values
    return values


def device_ui() -> str:
    sb = st.sidebar
    sb.header("Hardware")
    seed_widget("tr_device", st.session_state.get("train_device", "auto"))
    choice = sb.selectbox("Device", ["auto", *available_devices()], key="tr_device",
                          help="Where the maths runs: a CUDA GPU, Apple's MPS, or the CPU. auto takes the fastest.")
    st.session_state["train_device"] = choice
    sb.caption(f"Training on **{describe_device(detect_device(choice))}** · PyTorch {torch.__version__}")
    manager = manager_or_stop()
    ex = manager.executor
    where = (f"on the Ray cluster at {ex.address}" if ex.name == "ray"
             else f"{ex.max_runs} model(s) at a time with {ex.threads} CPU thread(s) each")  # fmt: skip
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
    """The Architecture page's network moved onto this dataset, else a preset suited to it."""
    spec = st.session_state.get("model_spec")
    source = "your network from the Architecture page"
    if spec is None:
        name = DEFAULT_PRESET[ds.config.dataset]
        spec, source = preset(name, ds.input_shape, ds.num_classes), f"the **{name}** preset"
    return spec.with_io(ds.input_shape, ds.num_classes), source


def collect_finished() -> None:
    """A finished job becomes a run of this session and the active model."""
    job = st.session_state.get(JOB)
    if job is None or job.state not in ("done", "failed"):
        return
    del st.session_state[JOB]
    if job.state == "failed":
        st.session_state["tr_error"] = job.error
        st.session_state["tr_error_kind"] = "stopped" if job.stopping else "failed"
        return
    run = job.result()
    if job.cached:
        run.summary["cached"] = True
    runs = st.session_state.setdefault("runs", [])
    runs.append(run)
    st.session_state["active_run"] = run
    st.session_state["tr_active"] = len(runs)


@st.fragment(run_every=0.5)
def live_job(config: TrainConfig) -> None:
    job = st.session_state.get(JOB)
    if job is None or job.state in ("done", "failed"):
        st.rerun()  # the whole page shows the result
    draw_progress(job.snapshot(), config)
    if st.button("Stop", key="tr_stop", icon=":material/stop:", help="Stop now and keep the model trained so far."):
        if not shared_manager().stop(job, session_label()):
            del st.session_state[JOB]
            st.toast("Another learner is training the same configuration: it goes on for them.")
        st.rerun()


st.title("Training")
st.markdown("Training shows the network labelled images, measures how wrong it is (the **loss**) and nudges every "
            "weight to make it a little less wrong. Watch the loss fall and the **validation accuracy** (on images "
            "it never trains on) rise. Pick the settings below, or just press **Train**.")  # fmt: skip
ds = current_dataset()
device = device_ui()
spec, source = model_for(ds)
try:
    infer_shapes(spec)
except SpecError as exc:
    st.error(f"Your network doesn't fit this dataset ({ds.config.dataset}, "
             f"{'×'.join(map(str, ds.input_shape))} images, {ds.num_classes} classes): {exc}")  # fmt: skip
    link("pages/architecture.py", "Architecture: fix the network")
    st.stop()
st.caption(f"Model: {source}, {len(spec.layers)} layers, for {ds.num_classes} classes of "
           f"{'×'.join(map(str, ds.input_shape))} images. Dataset: {ds.config.dataset}, "
           f"{len(ds.splits['train'])} training and {len(ds.splits['val'])} validation images.")  # fmt: skip

seed_train_widgets(ds)
values = hyperparameters_ui()
collect_finished()
try:
    config = TrainConfig(**values)
except ValueError as exc:
    st.error(f"{exc}.")
    st.stop()

if st.button("Train", type="primary", icon=":material/play_arrow:", key="tr_train",
             disabled=JOB in st.session_state,
             help="Train in the background: you may visit other pages meanwhile. If this exact configuration was "
             "trained before on this server, the result comes back at once."):  # fmt: skip
    st.session_state.pop("tr_error", None)
    st.session_state[JOB] = shared_manager().submit(spec, ds, config, device, who=session_label())
    st.rerun()  # redraw with the Train button disabled
if JOB in st.session_state:
    shared_manager().join(st.session_state[JOB], session_label())  # back after a reconnect: count this tab again
    live_job(st.session_state[JOB].config)
if "tr_error" in st.session_state:
    if st.session_state.get("tr_error_kind") == "stopped":
        st.warning(f"Training {st.session_state['tr_error']}.")
    else:
        st.error(f"Training failed: {st.session_state['tr_error']}")

runs = st.session_state.get("runs", [])
if runs:
    st.subheader("This session's runs")
    active = st.session_state.get("active_run")
    if st.session_state.get("tr_active") not in range(1, len(runs) + 1):
        st.session_state["tr_active"] = next((i for i, r in enumerate(runs, 1) if r is active), len(runs))
    number = st.selectbox("Active model (used by the Evaluation page)", range(1, len(runs) + 1), key="tr_active",
                          format_func=lambda i: f"Run {i}: {runs[i - 1].summary['val_acc']:.1%} validation accuracy",
                          help="The model that the next pages evaluate and explain.")  # fmt: skip
    st.session_state["active_run"] = chosen = runs[number - 1]
    draw_result(chosen)
    draw_runs(runs, chosen)
    draw_downloads(chosen, number)
    st.divider()
    link("pages/evaluation.py", "Evaluation: see how the active model does on the test images")
