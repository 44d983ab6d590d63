"""App-side helpers shared by the pages: session state, caching wrappers, widgets and charts."""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# Streamlit treats a folder named pages/ as old-style pages until a session has run the router's
# st.navigation. On a fresh server, a first visit straight to /dataset would run that page alone,
# without the router's navigation and layout. Every page imports this package: switch to the router
# and run again, as st.navigation itself would.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
