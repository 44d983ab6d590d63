"""A page's "Reset to defaults" button: forget the page's widget values, and the page starts afresh."""

from __future__ import annotations

import streamlit as st


def reset_button(prefix: str | tuple[str, ...], also: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> None:
    """A small button that forgets every session key starting with `prefix` (the page's widgets) and `also`,
    but not `keep` (work under way, such as a batch of runs)."""
    first = prefix if isinstance(prefix, str) else prefix[0]
    if st.button("Reset to defaults", key=f"reset_{first}", icon=":material/restart_alt:", type="tertiary",
                 help="Put every setting of this page back to where it started."):  # fmt: skip
        for key in [k for k in st.session_state if (str(k).startswith(prefix) or k in also) and k not in keep]:
            del st.session_state[key]
        st.rerun()
