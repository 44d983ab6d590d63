"""A real browser opens every page of the running app: no exception box, and a screenshot of each."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks._server import app_server
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("CNN_LAB_SCREENSHOTS") or tempfile.mkdtemp(prefix="cnn-lab-shots-"))

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium for the browser tests: apt-get install -y chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def page_paths() -> list[str]:
    """The URL path of every page the router lists ('' for the default page)."""
    router = (ROOT / "streamlit_app.py").read_text()
    found = re.findall(r'st\.Page\("app_pages/(\w+)\.py"[^)]*?(default=True)?\)', router)
    return ["" if default else name for name, default in found]


@pytest.fixture(scope="module")
def server():
    with app_server(timeout=60) as (url, _, _):  # a fresh `streamlit run` on a free loopback port, its own cache
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update"])  # fmt: skip
        yield b
        b.close()


def wait_until_idle(page, timeout_s: float = 90) -> None:
    """Wait until the page has drawn its title (or an exception) and its script run has ended."""
    page.wait_for_selector("[data-testid='stMain'] h1, [data-testid='stException']", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:  # idle: no 'Running…' widget and no skeleton for a whole second
        busy = page.locator("[data-testid='stStatusWidget'], [data-testid='stSkeleton']").count()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            break
        page.wait_for_timeout(200)
    page.wait_for_timeout(500)


def test_a_deep_link_to_a_page_on_a_fresh_server_gets_the_routers_navigation(server, browser):
    # Runs first, while no session has run the router yet (tests/test_routing.py does every page, each on a cold server).
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/dataset")
    wait_until_idle(page)
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Home" in nav and "Dataset" in nav and "streamlit app" not in nav.lower(), nav
    assert page.locator("h1").first.inner_text() == "Dataset"
    page.close()


@pytest.mark.parametrize("path", page_paths())
def test_every_page_opens_in_a_real_browser_without_an_exception(server, browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/{path}")
    wait_until_idle(page)
    shot = SHOTS / f"{path or 'home'}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0, f"exception box on /{path}; see {shot}"
    assert page.locator("h1").count() >= 1, f"no page title on /{path}; see {shot}"
    assert not errors, errors
    page.close()
