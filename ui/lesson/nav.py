"""The page navigation, drawn by the app so that every link carries the session's lesson: a page visit is then one
history entry. Streamlit's own navigation opens a page without the query (one entry) and the router's write of the
lesson afterwards would add a second; `st.page_link(query_params=…)` and `st.switch_page(query_params=…)` open the
page with its query in one step, and the router's write then finds the URL already right (no second entry)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from ui.lesson.session import VIEW_STATE, current_query

NAV_KEY = "lesson_nav"  # the key of the navigation's container; drawn before the page as NAV_KEY + "_early"
PHONE_KEY = "phone_nav"  # the "Pages" menu at the top of the page, shown only where the sidebar is an overlay
# Where Streamlit lays the sidebar over the page (its `md` breakpoint), a link in it leaves the sidebar open over the
# page it opened: a phone gets a menu of its own at the top of the page instead, and a wide screen never shows it.
PHONE_CSS = (f"@media (min-width: 769px) {{ [data-testid='stLayoutWrapper']:has(> [class*='st-key-{PHONE_KEY}']) "
             "{ display: none; } }")  # the wrapper too: a hidden menu leaves no gap above the title


def link_query() -> dict[str, str]:
    """The query a page of this session opens with: the lesson and the presenting view."""
    return {**current_query(), **st.session_state.get(VIEW_STATE, {})}


def navigation(slot, phone_slot, pages: Sequence, current, query: Mapping[str, str], early: bool = False) -> None:
    """A link to each page in `slot` (a sidebar placeholder) and in a phone's "Pages" menu in `phone_slot` (at the
    top of the page), each opening its page with `query`. The router draws both twice, as it does the link control
    (see `ui.lesson.session.sync`): `early`, before the page, then after. The menu is a new element on each
    page (its key names `current`, the page shown), so that it opens closed on the page one of its links opened."""
    end, params = "_early" if early else "", dict(query) or None
    with slot.container(key=NAV_KEY + end, gap=None):
        for page in pages:
            st.page_link(page, query_params=params)
    with phone_slot.container(key=PHONE_KEY + end):
        st.html(f"<style>{PHONE_CSS}</style>")
        menu = f"{PHONE_KEY}_menu_{current.url_path or 'home'}{end}"
        with st.popover("Pages", icon=":material/menu:", help="Open another page of the lab.", key=menu):
            for page in pages:
                st.page_link(page, query_params=params)


def page_link(page, **kwargs) -> None:
    """st.page_link to a page of the app, with the session's lesson."""
    st.page_link(page, query_params=link_query() or None, **kwargs)


def switch_page(page) -> None:
    """st.switch_page with the session's lesson."""
    st.switch_page(page, query_params=link_query() or None)
