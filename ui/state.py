"""What a session keeps between pages, and the caches shared between sessions."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnn_core.data import DataConfig, ImageDataset, make_dataset

DATA_CONFIG = "data_config"  # session key: the DataConfig the learner chose
DATASET = "dataset"  # session key: the ImageDataset built from it


@st.cache_resource(max_entries=4, ttl=3600, show_spinner="Generating the dataset…")
def shared_dataset(config: DataConfig) -> ImageDataset:
    """One copy per config for every session (arrays read-only, so sharing is safe); not the session's choice."""
    ds = make_dataset(config)
    for array in (ds.images, ds.labels, *ds.splits.values()):
        array.flags.writeable = False
    return ds


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
        ds = build_dataset(st.session_state.get(DATA_CONFIG) or DataConfig())
    return ds


def seed_widget(key: str, value: Any) -> None:
    """Give a keyed widget its starting value, unless it already has one this session.

    Streamlit forgets a widget's state when its page is left; seeding from the saved config
    brings the learner's choices back when they return.
    """
    if key not in st.session_state:
        st.session_state[key] = value
