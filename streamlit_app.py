"""CNN Lab: the router. Every page lives in app_pages/ (not pages/: see docs/layout.md); only pages that work
are listed. Around each page: a lesson link's settings before it, the lesson's URL and link control after it."""

import streamlit as st

from ui.board_views import remember_owner
from ui.lesson import session as lesson
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
page = st.navigation(pages)
lesson.open_link()  # a lesson link's settings, checked, before the page seeds its widgets from them
link_slot = st.sidebar.empty()
lesson.sync(link_slot, early=True)  # shown even if the page stops early
sidebar_server_facts()
remember_owner()  # the student's owner id in a cookie: their board name and runs survive a reload
page.run()
lesson.sync(link_slot)  # the URL and the link follow what the page just chose
