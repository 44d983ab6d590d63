"""The page navigation, drawn by the app so that every link carries the session's lesson: a page visit is then one
history entry. Streamlit's own navigation opens a page without the query (one entry) and the router's write of the
lesson afterwards would add a second; `st.page_link(query_params=…)` and `st.switch_page(query_params=…)` open the
page with its query in one step, and the router's write then finds the URL already right (no second entry)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from ui.lesson.session import VIEW_STATE, current_query

NAV_KEY = "lesson_nav"  # the key of the navigation's container; drawn before the page as NAV_KEY + "_early"


def link_query() -> dict[str, str]:
    """The query a page of this session opens with: the lesson and the presenting view."""
    return {**current_query(), **st.session_state.get(VIEW_STATE, {})}


def navigation(slot, pages: Sequence, query: Mapping[str, str], early: bool = False) -> None:
    """A link to each page in `slot` (a sidebar placeholder), each opening its page with `query`. The router draws
    it twice, as it does the link control (see `ui.lesson.session.sync`): `early`, before the page, then after."""
    with slot.container(key=f"{NAV_KEY}_early" if early else NAV_KEY, gap=None):
        for page in pages:
            st.page_link(page, query_params=dict(query) or None)


def page_link(page, **kwargs) -> None:
    """st.page_link to a page of the app, with the session's lesson."""
    st.page_link(page, query_params=link_query() or None, **kwargs)


def switch_page(page) -> None:
    """st.switch_page with the session's lesson."""
    st.switch_page(page, query_params=link_query() or None)
