"""The browser tests' shared Chromium and warm server (one of each per test process), and the cold servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks._server import CHROMIUM, CHROMIUM_ARGS, app_server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI needs Debian's chromium for the browser tests: apt-get install -y chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def server():
    """A warm `streamlit run` on a free loopback port with its own cache, shared by the tests that need no cold one."""
    with app_server() as (url, _, _):
        yield url
