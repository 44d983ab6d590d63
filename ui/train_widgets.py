"""The Training page's hyperparameter widgets: one per TrainConfig field, seeded with defaults suited to the dataset."""

import streamlit as st

from cnn_core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig, default_step_size, suggested_config
from ui.state import seed_widget

SAVED = "train_values"  # session key: the hyperparameters chosen, kept while on other pages
LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
FIELDS = [f for f in TrainConfig.__dataclass_fields__]
# The page's cards and the widgets in each: presenting mode hides a card whose widgets are all hidden (no empty box)
CARDS = {"tr_card_optimizer": ("optimizer", "lr", "momentum", "weight_decay"),
         "tr_card_schedule": ("schedule", "step_size", "gamma"),
         "tr_card_loop": ("batch_size", "epochs", "patience", "label_smoothing"),
         "tr_card_augment": ("rotation", "hflip", "translate", "crop_scale", "color_jitter"),
         "tr_card_precision": ("precision", "seed")}  # fmt: skip


def seed_train_widgets(ds) -> None:
    """Defaults suited to this dataset; the learner's own choices come back until the dataset changes."""
    saved = st.session_state.get(SAVED)
    fresh = saved is None or st.session_state.get("tr_defaults_for") != ds.config.key()
    if fresh:  # the step size is left to follow the epochs (a third of them) until the learner sets one
        saved = st.session_state[SAVED] = {**suggested_config(ds.config).to_dict(), "step_size": None}
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
    st.number_input("Step every (epochs)", 1, 100, value=None, key="tr_step_size", disabled=not step,
                    placeholder=f"auto: every {default_step_size(st.session_state.tr_epochs)}",
                    help="Step schedule: the number of epochs between two cuts of the learning rate. Left empty, "
                    "it follows the epochs: the rate is cut after each third of the run.")
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
    with cols[0].container(border=True, key="tr_card_optimizer"):
        st.markdown("**Optimizer**")
        optimizer_ui()
    with cols[1].container(border=True, key="tr_card_schedule"):
        st.markdown("**Learning-rate schedule**")
        schedule_ui()
    with cols[2].container(border=True, key="tr_card_loop"):
        st.markdown("**Training loop**")
        loop_ui()
    with st.container(key="tr_card_augment"), st.expander("Data augmentation", expanded=False):
        augment_ui()
    with st.container(key="tr_card_precision"), st.expander("Precision and seed", expanded=False):
        st.radio("Precision", ("auto", "fp32", "bf16"), key="tr_precision", horizontal=True,
                 help="fp32: full 32-bit floats. bf16: mixed precision (16-bit brain floats for the heavy maths, "
                 "32-bit weights), about twice as fast on hardware that has it. auto picks bf16 there.")
        st.number_input("Training seed", 0, 2**31 - 1, key="tr_seed",
                        help="The same seed gives the same starting weights, order and dropout, so the same result.")
    values = {name: st.session_state[f"tr_{name}"] for name in FIELDS}
    values["rotation"] = float(values["rotation"])
    st.session_state[SAVED] = values
    return values
