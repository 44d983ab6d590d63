"""Shared test helpers: the repo root, and an AppTest factory that starts at the router."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app():
    """A factory: `app("app_pages/dataset.py")` runs the router and switches to that page."""
    from streamlit.testing.v1 import AppTest

    def open_page(page: str | None = None, timeout: float = 60):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return open_page


@pytest.fixture(autouse=True, scope="session")
def _isolated_model_cache(tmp_path_factory):
    """Tests never read or fill the user's model cache."""
    os.environ["CNN_LAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("model-cache"))


@pytest.fixture
def torch_state_untouched():
    """The test leaves no thread running and torch's thread count as it found it."""
    import threading

    import torch

    threads, before = torch.get_num_threads(), set(threading.enumerate())
    yield
    assert torch.get_num_threads() == threads, "the test changed torch's thread count"
    leaked = [t.name for t in threading.enumerate() if t not in before]
    assert not leaked, f"the test left threads running: {leaked}"
