import streamlit as st

from cnn_core.nets.blocks import DOWNSAMPLING, BlockDesign, design_of
from cnn_core.study.exercises import EXERCISES, HARD_SHAPES, MAX_SEEDS, WHY_HARD, ExperimentConfig
from cnn_core.study.experiments import experiment_result
from cnn_core.study.sweeps import MAX_TRIALS, SweepConfig, apply, best_trial, sweep_rows
from cnn_core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from cnn_core.words import count
from ui.echo import plain
from ui.experiment_runs import start_batch
from ui.experiment_views import draw_experiment, draw_progress, draw_sweep, send_to_pages
from ui.lesson.presenting import intro
from ui.reset import reset_button
from ui.state import current_dataset, shared_dataset
from ui.train_views import link

BATCH = "exp_batch"  # session key: the batch under way or last finished, with its kind and config
# The values a sweep may try, as the Architecture and Training pages offer them (so "use the best" fits there).
SWEEP_CHOICES = {
    "lr": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1), "batch_size": (8, 16, 32, 64, 128, 256),
    "weight_decay": (0.0, 1e-5, 1e-4, 1e-3, 1e-2), "optimizer": OPTIMIZERS, "schedule": SCHEDULES,
    "epochs": (1, 2, 3, 5, 10, 15, 20, 30), "label_smoothing": (0.0, 0.05, 0.1, 0.2),
    "rotation": (0.0, 5.0, 10.0, 15.0, 30.0, 45.0), "hflip": (False, True), "blocks": (1, 2, 3, 4, 5, 6),
    "width": (0.25, 0.5, 1.0, 2.0), "dropout": (0.0, 0.1, 0.25, 0.5), "batch_norm": (True, False),
    "downsample": DOWNSAMPLING, "kernel_size": (1, 3, 5, 7),
}  # fmt: skip
SWEEP_DEFAULTS = {"lr": (1e-3, 1e-2), "batch_size": (32, 128)}
ss = st.session_state


def task_ui():
    """The data every run trains on: the ready hard shapes, or the Dataset page's current dataset."""
    task = st.radio("Task", ("hard", "current"), key="exp_task", horizontal=True,
                    format_func={"hard": "hard shapes (ready)", "current": "the current dataset"}.get,
                    help="Every run of an experiment trains on the same images with the same split.")  # fmt: skip
    if task == "hard":
        st.caption(WHY_HARD)
        return HARD_SHAPES
    data = current_dataset().config
    st.caption(f"The Dataset page's {data.dataset}: {len(data.classes)} classes, {data.n_per_class} images each. "
               "On the default shapes expect every variant to score 100 % — see *hard shapes*.")  # fmt: skip
    return data


def base_ui(data) -> tuple[BlockDesign, TrainConfig]:
    """The network and the budget every variant starts from."""
    mine = design_of(ss["model_spec"]) if ss.get("model_spec") is not None else None
    options = ["simple_cnn"] + (["mine"] if mine is not None else [])
    left, right = st.columns(2)
    start = left.radio("Start from", options, key="exp_start", horizontal=True,
                       format_func={"simple_cnn": "SimpleCNN (the notebook's)", "mine": "my Architecture design"}.get,
                       help="The network each exercise changes. Your own design is offered when it is a stack of "
                       "blocks.")  # fmt: skip
    epochs = right.slider("Epochs per run", 1, 30, 10, key="exp_epochs",
                          help="The same budget for every run. Fewer epochs finish sooner but may not tell the "
                          "variants apart.")  # fmt: skip
    design = mine if start == "mine" else BlockDesign()
    return design, TrainConfig(epochs=epochs)  # the step schedule follows the epochs


def exercise_ui(data, design, train) -> ExperimentConfig | None:
    left, right = st.columns([2, 1])
    name = left.selectbox("Exercise", list(EXERCISES), key="exp_exercise", format_func=lambda n: EXERCISES[n].title,
                          help="Each trains every variant with the same data, split and budget; only what the "
                          "exercise names changes.")  # fmt: skip
    seeds = right.slider("Seeds per variant", 1, MAX_SEEDS, 3, key="exp_seeds",
                         help="Each seed starts from other random weights, order and dropout. Several seeds show "
                         "how much a result moves by luck alone.")  # fmt: skip
    ex = EXERCISES[name]
    try:
        cfg = ExperimentConfig(exercise=name, seeds=seeds, data=data, design=design, train=train)
        n = len(cfg.variants())
    except ValueError as exc:
        st.error(f"{plain(exc)}.")
        return None
    origin = "from the notebook" if ex.notebook else "beyond the notebook"
    st.caption(f"*{ex.question}* ({origin}) · {n} variants × {count(seeds, 'seed')} = {count(n * seeds, 'run')}")
    return cfg


def sweep_ui(data, design, train) -> SweepConfig | None:
    knobs = st.multiselect("Hyperparameters", list(SWEEP_CHOICES), default=list(SWEEP_DEFAULTS), key="sweep_knobs",
                           help="Training settings and block-level architecture knobs to vary. blocks: how many "
                           "conv blocks; width: every block's channels times this.")  # fmt: skip
    params = []
    cols = st.columns(3)
    for i, knob in enumerate(knobs):
        choices = SWEEP_CHOICES[knob]
        values = cols[i % 3].multiselect(knob, choices, default=SWEEP_DEFAULTS.get(knob, choices[:2]),
                                         key=f"sweep_values_{knob}", format_func=str,
                                         help=f"The values of {knob} to try.")  # fmt: skip
        params.append((knob, tuple(values)))
    left, right = st.columns(2)
    mode = left.radio("Search", ("grid", "random"), key="sweep_mode", horizontal=True,
                      help="Grid: every combination. Random: a random sample of the combinations — often as good "
                      "for far fewer runs.")  # fmt: skip
    budget = right.number_input("Budget (runs)", 1, MAX_TRIALS, 8, key="sweep_budget",
                                help="The most runs the sweep may train.")  # fmt: skip
    try:
        cfg = SweepConfig(tuple(params), mode=mode, budget=int(budget), data=data, design=design, train=train)
        trials = len(cfg.combinations())
    except ValueError as exc:
        st.error(f"{plain(exc)}.")
        return None
    st.caption(f"{count(cfg.grid_size, 'combination')} in the grid · {count(trials, 'run')}")
    return cfg


def run_button(label: str, key: str, cfg) -> None:
    busy = ss.get(BATCH) is not None and not ss[BATCH]["batch"].done()
    if st.button(label, type="primary", icon=":material/play_arrow:", key=key, disabled=cfg is None or busy,
                 help="Train every run in the background, several at a time; runs trained before on this server "
                 "come back at once."):  # fmt: skip
        try:
            batch = start_batch(cfg.trials(), shared_dataset(cfg.data))
        except ValueError as exc:  # a variant the images can't take, or an unreachable Ray cluster
            st.error(f"{plain(exc)}.")
            return
        ss[BATCH] = {"kind": key, "config": cfg, "batch": batch}
        st.rerun()


@st.fragment(run_every=1.0)
def live_batch() -> None:
    batch = ss[BATCH]["batch"]
    batch.poll()
    if batch.done():
        st.rerun()  # the whole page draws the results
    draw_progress(batch.states, key="exp_live_table")
    if st.button("Stop all", key="exp_stop", icon=":material/stop:",
                 help="Stop every run of this batch; the finished ones are kept."):  # fmt: skip
        batch.stop()
        st.rerun()


def results(entry: dict) -> None:
    batch, cfg = entry["batch"], entry["config"]
    counts = batch.counts
    if counts.get("cached"):
        st.caption(f"{counts['cached']} of {len(batch.states)} runs came from the server's run registry: "
                   "trained before with exactly this configuration, so not trained again.")  # fmt: skip
    if batch.stopped:
        st.warning("Stopped: the results below use only the runs that finished.")
    with st.expander("Every run", expanded=False):
        draw_progress(batch.states, key="exp_done_table")
    if entry["kind"] == "exp_run":
        result = experiment_result(cfg, batch.states)
        if result is None:
            st.info("Not enough finished runs to compare: the baseline and one other variant need one each.")
            return
        draw_experiment(cfg, result, batch.states)
        return
    rows = sweep_rows(batch.states)
    names = [k for k, _ in cfg.params]
    best = best_trial(rows)
    draw_sweep(rows, names, best)
    if best is not None and st.button("Use the best", key="sweep_use_best", icon=":material/check:",
                                      help="Send the best trial's network to the Architecture page and its "
                                      "training settings to the Training page (with this task as the dataset)."):
        design, train = apply(cfg.design, cfg.train, {n: best[n] for n in names})
        send_to_pages(design, train, cfg.data)
        st.success("Sent: the Architecture page now shows this network and the Training page these settings.")
        link("app_pages/training.py", "Training: train it")


st.title("Experiments")
reset_button(("exp_", "sweep_"), keep=(BATCH,))
intro(
    "Does a design choice really help? One run cannot tell: train the same network twice with other random "
    "starting weights and the accuracy moves. Here every **exercise** from the notebook trains each variant over "
    "several **seeds** and compares the variants seed by seed: a difference counts only when a t-test says the "
    "seed-to-seed spread is unlikely to explain it, and every gap comes with its 95 % interval. A "
    "**sweep** tries many training settings and network knobs and finds the best."
)
data = task_ui()
design, train = base_ui(data)
tabs = st.tabs(["Exercises", "Sweep"])
with tabs[0]:
    run_button("Run the experiment", "exp_run", exercise_ui(data, design, train))
    st.caption("The notebook's fifth exercise, Grad-CAM, is on the Evaluation page.")
with tabs[1]:
    run_button("Run the sweep", "sweep_run", sweep_ui(data, design, train))

entry = ss.get(BATCH)
if entry is not None:
    st.subheader("Experiment" if entry["kind"] == "exp_run" else "Sweep")
    if not entry["batch"].done():
        live_batch()
    else:
        results(entry)
