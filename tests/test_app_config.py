"""The app's Streamlit configuration: what students see of Streamlit itself."""

import tomllib

from tests.conftest import ROOT


def test_students_do_not_see_the_deploy_button_or_the_developer_menu():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer"
