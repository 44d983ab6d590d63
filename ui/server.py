"""The sidebar's server facts: what this server may use and how it sized itself (no torch import)."""

import streamlit as st

from cnn_core.runs.resources import Limits, Plan, read_limits, server_plan


@st.cache_resource(show_spinner=False)
def server_facts() -> tuple[Limits, Plan]:
    """Read once per server process: the limits don't change while it runs."""
    return read_limits(), server_plan()


def sidebar_server_facts() -> None:
    try:
        limits, plan = server_facts()
    except ValueError as exc:  # a bad $CNN_LAB_MAX_RUNS
        st.sidebar.error(str(exc))
        return
    with st.sidebar.expander("This server", icon=":material/dns:"):
        st.caption(f"**{limits.cpus:g} cores** ({limits.cpu_source}) and **{limits.memory / 1e9:.1f} GB** "
                   f"({limits.memory_source}).")
        st.caption(plan.reason)
        st.caption(f"Each run uses {plan.threads_per_run} thread{'s' * (plan.threads_per_run != 1)} at a lower CPU "
                   f"priority than the web server (nice {plan.worker_nice}), so that pages and live views go first; "
                   f"the server keeps up to {plan.dataset_entries} dataset{'s' * (plan.dataset_entries != 1)} in "
                   "memory for everyone.")
