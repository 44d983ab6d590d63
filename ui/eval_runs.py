"""The Evaluation page's run pickers and per-run caches: which run to evaluate, how it ended, the model built for
this session, and its evaluation, embedding and explanations, cached by run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from cnn_core.data.dataset import ImageDataset
from cnn_core.inspection import evaluate as ev_core
from cnn_core.inspection import interpret
from cnn_core.inspection.evaluate import Evaluation
from cnn_core.training.run import TrainedRun
from ui.lesson.nav import page_link

MODEL = "eval_model"  # session key: ((run key, device), the built model), so reruns don't rebuild it
TSNE_MAX = 2000  # t-SNE's time grows faster than the number of images: a sample keeps the page responsive


def run_key(run: TrainedRun) -> str:
    """What the per-run caches (shared by every session) are keyed by: a digest of the weights, the network's and
    the dataset's keys; never the run id a checkpoint file declares (an upload may carry another learner's id with
    other weights)."""
    return f"{run.weights_digest()}:{run.spec.key()}:{run.data_config.key()}"


def run_label(run: TrainedRun, number: int) -> str:
    """E.g. 'Run 2: 3 conv layers on shapes (circle, square…), val acc 94%'."""
    convs = sum(lay.type == "conv2d" for lay in run.spec.layers)
    classes = ", ".join(run.data_config.classes[:3]) + ("…" if len(run.data_config.classes) > 3 else "")
    acc = run.summary.get("val_acc")
    acc_text = f", val acc {acc:.0%}" if isinstance(acc, (int, float)) else ""
    return f"Run {number}: {convs} conv layer{'s' * (convs != 1)} on {run.data_config.dataset} ({classes}){acc_text}"


def differing_settings(configs: list[dict]) -> list[str]:
    """The training settings whose values are not the same in every one of these configs, in their order."""
    names = dict.fromkeys(name for config in configs for name in config)
    return [n for n in names if len({repr(config.get(n)) for config in configs}) > 1]


def _setting(name: str, value) -> str:
    """E.g. 'lr 0.003', 'optimizer sgd', 'hflip on'."""
    text = ("on" if value else "off") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else value
    return f"{name.replace('_', ' ')} {text}"


def cache_labels(entries: list[dict], names: dict[str, str]) -> list[str]:
    """One label per registry entry that tells it from the others: the dataset, the training settings that differ
    between the entries, the validation accuracy, the status, then whose (`names`: who → the name shown, "(you)" on
    this student's own, ui.board_views.shown_names)
    and when. E.g. 'shapes, lr 0.01, seed 1, val acc 81%, completed · you, 25 Nov 14:02 UTC'."""
    differing = differing_settings([e.get("train_config") or {} for e in entries])
    labels = []
    for e in entries:
        when = datetime.fromtimestamp(e["saved"], timezone.utc).strftime("%d %b %H:%M UTC")
        whose = names.get(e.get("who")) or e.get("who") or "unknown"
        settings = [_setting(n, (e.get("train_config") or {}).get(n)) for n in differing]
        acc = e.get("val_acc")
        parts = [e.get("dataset", "?"), *settings, f"val acc {acc:.0%}" if isinstance(acc, (int, float)) else None,
                 e.get("status") or "completed"]  # fmt: skip
        labels.append(", ".join(p for p in parts if p) + f" · {whose}, {when}")
    return labels


def cache_details(entry: dict) -> str:
    """The chosen registry entry's network and length, e.g. '19 layers, 619,268 parameters, 10 epochs run'."""
    return (f"{entry.get('layers', '?')} layers, {entry.get('params') or 0:,} parameters, "
            f"{entry.get('epochs_run', '?')} epochs run")


STATUS_NOTES = {"diverged": "This run **diverged**", "stopped": "This run was **stopped** before it finished",
                "unstable": "This run is **unstable**, it barely learned"}  # fmt: skip


def status_note(run: TrainedRun) -> str | None:
    """A warning for a run that did not end well (diverged, stopped, unstable), naming why; None otherwise."""
    status = run.summary.get("status", "completed")
    if status not in STATUS_NOTES:
        return None
    reason = run.summary.get("reason") or "no reason was recorded"
    return (f"{STATUS_NOTES[status]}: {reason}. The scores below are those of the weights it kept, not of a "
            "model that finished training.")


def cached_run_ui(entries: list[dict], cache, names: dict[str, str]) -> TrainedRun | None:
    """A run from the server's run registry, newest first (trained by any session; `names`: as cache_labels)."""
    labels = cache_labels(entries, names)
    i = st.selectbox("Run on this server", range(len(entries)), key="ev_cached", format_func=labels.__getitem__,
                             help="Every finished training on this server is kept (the oldest go when the store is "
                             "full): when, by whom (the names on the class board; '(you)' marks yours), the settings that "
                             "differ between the runs, and how it ended.")  # fmt: skip
    st.caption(cache_details(entries[i]))
    run = cache.get_run(entries[i]["run_id"])
    if run is None:
        why = [w for w in cache.warnings if entries[i]["run_id"] in w][-1:]  # what the store said about it (logged too)
        st.warning("That run's checkpoint could not be read; it is skipped from now on.")
        if why:
            st.text(why[0])
    return run


def friendly_stop(message: str) -> None:
    st.info(message)
    try:
        page_link("app_pages/training.py", label="Go to the Training page", icon=":material/model_training:")
    except StreamlitAPIException:  # the router does not list the Training page (yet)
        st.caption("Open the **Training** page from the menu on the left.")
    st.stop()


def session_model(run: TrainedRun, device) -> object:
    """The run's model on the device, built once per session and run (Grad-CAM hooks it: not shared)."""
    ident = (run_key(run), str(device))
    held = st.session_state.get(MODEL)
    if held is None or held[0] != ident:
        held = (ident, run.build(device))
        st.session_state[MODEL] = held
    return held[1]


@st.cache_data(max_entries=8, show_spinner="Running the model over the held-out images…")
def evaluation(key: str, _model: Callable[[], object], _ds: ImageDataset, _done: Evaluation | None = None) -> Evaluation:
    """The model's evaluation on the held-out split; `_done`: the one its worker computed as the run ended
    (run.held_out, on the CPU: cnn_core.runs.held_out), taken when it is of this dataset's held-out split.
    `_model` builds the model (session_model): only called when neither the cache nor the worker has the answer, so
    a session that only reads the scores builds no model of its own."""
    if _done is not None and _fits(_done, _ds):
        return _done
    return ev_core.evaluate(_model(), _ds)


def _fits(done: Evaluation, ds: ImageDataset) -> bool:
    split, _ = ev_core.held_out_split(ds)
    return (done.split == split and tuple(done.classes) == tuple(ds.classes)
            and np.array_equal(done.indices, ds.splits[split]) and len(done.probs) == len(done.indices))  # fmt: skip


@st.cache_data(max_entries=8, show_spinner="Computing the 2-D map (t-SNE takes a few seconds)…")
def embedding(key: str, method: str, _features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates, and the positions in the evaluated split they belong to (t-SNE: a sample of a large split)."""
    positions = np.arange(len(_features))
    if method == "tsne" and len(positions) > TSNE_MAX:
        positions = np.sort(np.random.default_rng(0).choice(len(positions), TSNE_MAX, replace=False))
    return ev_core.embed(_features[positions], method), positions


@st.cache_data(max_entries=64, show_spinner=False)
def explanation(key: str, image_id: str, target: int, layer: int, _model, _image: np.ndarray):
    """Grad-CAM at `layer` and saliency for one image and class."""
    return interpret.grad_cam(_model, _image, target, layer), interpret.saliency(_model, _image, target)


@st.cache_data(max_entries=32, show_spinner=False)
def block_maps(key: str, image_id: str, layers: tuple[int, ...], _model, _image: np.ndarray) -> list[np.ndarray]:
    return interpret.feature_maps(_model, _image, layers)


def probabilities(model, image: np.ndarray) -> np.ndarray:
    return ev_core.predict(model, image[None])[0]
