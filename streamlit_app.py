"""CNN Lab: the router. Every page lives in pages/; only pages that work are listed."""

import streamlit as st

from ui.server import sidebar_server_facts

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
    st.Page("pages/convolution.py", title="Convolution", icon=":material/blur_on:"),
    st.Page("pages/architecture.py", title="Architecture", icon=":material/account_tree:"),
    st.Page("pages/training.py", title="Training", icon=":material/model_training:"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/fact_check:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
]
page = st.navigation(pages)
sidebar_server_facts()
page.run()
