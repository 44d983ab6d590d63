"""The browser tests' shared Chromium and warm server (one of each per test process), and the cold servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks._server import CHROMIUM, app_server, chromium


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI needs Debian's chromium for the browser tests: apt-get install -y chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    with chromium() as b:
        yield b


@pytest.fixture(scope="session")
def server():
    """A warm `streamlit run` on a free loopback port with its own cache, shared by the tests that need no cold one."""
    with app_server() as (url, _, _):
        yield url
