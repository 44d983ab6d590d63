"""The app's Streamlit configuration: what students see of Streamlit itself."""

import tomllib

from tests.conftest import ROOT


def test_students_do_not_see_the_deploy_button_or_the_developer_menu():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer"


def test_a_rerun_costs_the_server_no_file_watching_and_no_full_garbage_collection():
    """Streamlit itself reads these names (a misspelt option would be ignored): after every rerun, and a live
    Training view reruns once a second per viewer, the file watcher walked all of sys.modules and
    postScriptGC ran a full collection, about 100 ms of server CPU per rerun between them."""
    import subprocess
    import sys

    code = ("from streamlit import config; config.get_config_options(force_reparse=True); "
            "print(config.get_option('server.fileWatcherType'), config.get_option('runner.postScriptGC'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["none", "False"]
