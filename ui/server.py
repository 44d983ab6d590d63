"""The sidebar's server facts: what this server may use and how it sized itself (no torch import)."""

import streamlit as st

from cnn_core.runs.resources import Limits, Plan, check_network, read_limits, server_plan


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


def network_verdict(spec, batch_size: int):
    """This server's judgement of a network (cnn_core.runs.resources.check_network: ok, warn or refuse) from its
    limits and plan; None when the spec breaks or the plan can't be read (the page says so elsewhere)."""
    try:
        limits, plan = server_facts()
        return check_network(spec, batch_size, limits, plan)
    except ValueError:
        return None


def draw_verdict(verdict, refused_means: str) -> None:
    """A network's warning, or its refusal followed by what the refusal means on this page."""
    if verdict is None or verdict.level == "ok":
        return
    text = verdict.message[0].upper() + verdict.message[1:]
    if verdict.refused:
        st.error(f"{text}. {refused_means}", icon=":material/memory:")
    else:
        st.warning(f"{text}.", icon=":material/memory:")
