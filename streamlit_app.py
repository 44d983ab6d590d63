"""CNN Lab: the router. Every page lives in app_pages/ (not pages/: see docs/layout.md); only pages that work
are listed. Around each page: a lesson link's settings before it, the lesson's URL and link control after it."""

import streamlit as st

from ui.board_views import remember_owner
from ui.lesson import session as lesson
from ui.lesson.nav import navigation
from ui.server import sidebar_server_facts

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
    st.Page("app_pages/convolution.py", title="Convolution", icon=":material/blur_on:"),
    st.Page("app_pages/architecture.py", title="Architecture", icon=":material/account_tree:"),
    st.Page("app_pages/training.py", title="Training", icon=":material/model_training:"),
    st.Page("app_pages/evaluation.py", title="Evaluation", icon=":material/fact_check:"),
    st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:"),
    st.Page("app_pages/board.py", title="Class board", icon=":material/leaderboard:"),
]
page = st.navigation(pages, position="hidden")  # our own links carry the lesson: one history entry per visit
lesson.open_link()  # a lesson link's settings, checked, before the page seeds its widgets from them
nav_slot, link_slot, phone_slot = st.sidebar.empty(), st.sidebar.empty(), st.empty()
before = lesson.sync(link_slot, early=True)
navigation(nav_slot, phone_slot, pages, page, before, early=True)  # even if the page stops
sidebar_server_facts()
remember_owner()  # the student's owner id in a cookie: their board name and runs survive a reload
page.run()
after = lesson.sync(link_slot)  # the URL and the link follow the page
if after != before:  # and the navigation's links, when the page changed the lesson (else they are already right)
    navigation(nav_slot, phone_slot, pages, page, after)
