"""What a session keeps between pages, and the caches shared between sessions."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from cnn_core.data import image_store
from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import ImageDataset, make_dataset
from cnn_core.data.image_set import ImageSet
from cnn_core.runs.resources import plan, read_limits, server_plan, torch_build

DATA_CONFIG = "data_config"  # session key: the DataConfig the learner chose
DATASET = "dataset"  # session key: the ImageDataset built from it
MY_IMAGES = "my_images"  # session key: the ImageSet of the learner's own images, if any
MY_DIGESTS = "my_image_digests"  # session key: digest → ImageSet of the image sets this session brought
MAX_SETS_PER_SESSION = 3  # older ones are asked for again when a model needs them
logger = logging.getLogger(__name__)


def dataset_entries() -> int:
    """How many datasets the server keeps for everyone: the sidebar's plan, $CNN_LAB_MAX_RUNS and $CNN_LAB_THREADS
    included (a bad value is named in the sidebar; the plan without it is used meanwhile)."""
    try:
        return server_plan().dataset_entries
    except ValueError:
        return plan(read_limits(), torch_build()).dataset_entries


# As many datasets as the server's memory holds beside its training workers (cnn_core.runs.resources), at most 4.
@st.cache_resource(max_entries=dataset_entries(), ttl=3600, show_spinner="Generating the dataset…")
def _shared_dataset(config: DataConfig) -> ImageDataset:
    ds = make_dataset(config)
    for array in (ds.images, ds.labels, *ds.splits.values()):
        array.flags.writeable = False
    return ds


def shared_dataset(config: DataConfig) -> ImageDataset:
    """One copy per config for every session (arrays read-only, so sharing is safe); not the session's choice.

    A dataset of a learner's own images opens only for the session that brought them (MissingImages
    otherwise): its digest in a cached run or a checkpoint is not enough to see the pictures.
    """
    if config.dataset == "folder":
        mine = st.session_state.get(MY_DIGESTS, {})
        if config.digest not in mine:
            raise image_store.MissingImages(config.digest, config.classes)
        if not image_store.has(config.digest):  # evicted from the server's store: this session still holds them
            image_store.put(mine[config.digest])
    return _shared_dataset(config)


def keep_my_images(images: ImageSet) -> str:
    """Make an image set this session's current one and put it in the server's store; returns its digest."""
    digest = image_store.put(images)
    mine = st.session_state.setdefault(MY_DIGESTS, {})
    mine.pop(digest, None)
    mine[digest] = images  # newest last
    while len(mine) > MAX_SETS_PER_SESSION:
        mine.pop(next(iter(mine)))
    st.session_state[MY_IMAGES] = images
    return digest


def build_dataset(config: DataConfig) -> ImageDataset:
    """The dataset for a config, built once per server and kept in this session for later pages."""
    ds = shared_dataset(config)
    st.session_state[DATA_CONFIG] = config
    st.session_state[DATASET] = ds
    return ds


def current_dataset() -> ImageDataset:
    """The dataset chosen on the Dataset page, or the default one before any choice."""
    ds = st.session_state.get(DATASET)
    if ds is None:
        config = st.session_state.get(DATA_CONFIG) or DataConfig()
        try:
            ds = build_dataset(config)
        except ValueError as exc:  # another learner's images (a run loaded from the board), a store that can't be read
            logger.info("dataset %s can't be built for this session: %s", config.dataset, exc)
            st.warning(f"The chosen dataset can't be used here: {exc}. The default dataset is used instead; choose "
                       "another on the Dataset page.")  # fmt: skip
            ds = build_dataset(DataConfig())
    return ds


def seed_widget(key: str, value: Any) -> None:
    """Give a keyed widget its starting value, unless it already has one this session.

    Streamlit forgets a widget's state when its page is left; seeding from the saved config
    brings the learner's choices back when they return.
    """
    if key not in st.session_state:
        st.session_state[key] = value
