"""The sidebar's compute-device facts, for the pages that use torch."""

import streamlit as st


@st.cache_resource(show_spinner=False)
def device_facts() -> tuple[str, str]:
    """(device description, torch version), detected once per server."""
    import torch

    from cnn_core.training.device import describe_device

    return describe_device(), torch.__version__


def sidebar_device() -> None:
    description, version = device_facts()
    st.sidebar.caption(f"Compute device: **{description}** · PyTorch {version}")
