"""Routing with public APIs only, in Chromium: a deep link to any page (`/home` included) on a cold server gets the
router's navigation and layout; a lesson link fills the widgets, the URL follows the lesson from page to page,
and presenting mode hides what it names and nothing else."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from benchmarks._server import CHROMIUM, CHROMIUM_ARGS, app_server
from tests.conftest import ROOT

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium for the browser tests: apt-get install -y chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def router_pages() -> list[tuple[str, str, bool]]:
    """(URL path, title, default) of every page the router lists."""
    router = (ROOT / "streamlit_app.py").read_text()
    found = re.findall(r'st\.Page\("\w+/(\w+)\.py", title="([^"]+)"[^)]*?(default=True)?\)', router)
    return [(name, title, bool(default)) for name, title, default in found]


PAGES = router_pages()
TITLES = [title for _, title, _ in PAGES]
HEADINGS = {"Home": "CNN Lab"}  # a page whose heading differs from its title in the navigation


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def ready(page, heading: str, timeout_s: float = 120) -> None:
    """The page's heading shows, and the page has been quiet (no "Running…", no placeholder) for a second."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout_s * 1000)
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if page.locator("[data-testid='stStatusWidget'], [data-testid='stSkeleton']").count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the {heading} page was still busy after {timeout_s:.0f} s")


def test_the_router_lists_every_page_and_home_is_the_default():
    assert [p for p in PAGES if p[2]] == [("home", "Home", True)] and len(PAGES) >= 7


@pytest.mark.parametrize("path, title", [(name, title) for name, title, _ in PAGES])
def test_a_deep_link_on_a_cold_server_gets_the_routers_navigation(browser, path, title):
    with app_server() as (url, _, _):  # a fresh server: no session has run the router yet
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/{path}")
        ready(page, HEADINGS.get(title, title))
        nav = page.locator("[data-testid='stSidebarNav']")
        links = [a.inner_text().strip().splitlines()[-1] for a in nav.locator("a").all()]  # the icon's name first
        assert links == TITLES, links  # the router's titles and order, not Streamlit's file names
        assert page.locator("[data-testid='stSidebarNav'] [aria-current='page']").inner_text().strip().endswith(title)
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.url.split("?")[0].rstrip("/").endswith(path) or path == "home"
        page.close()


@pytest.fixture(scope="module")
def server():
    with app_server() as (url, _, _):
        yield url


def test_a_lesson_link_fills_the_widgets_and_the_url_follows_it_from_page_to_page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/training?epochs=3&lr=0.01&noise=0.123&bogus=1")
    ready(page, "Training")
    warning = page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
    assert "noise='0.123' was rounded to 0.12" in warning and "bogus" in warning
    assert page.locator(".st-key-tr_epochs [aria-valuetext]").get_attribute("aria-valuetext") == "3"
    page.locator("[data-testid='stSidebarNav'] a", has_text="Dataset").click()
    ready(page, "Dataset")
    query = page.url.split("?", 1)[1]
    assert sorted(query.split("&")) == ["epochs=3", "lr=0.01", "noise=0.12"]
    page.locator(".st-key-ds_size [aria-valuetext]").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("location.search.includes('size=33')", timeout=60_000)
    page.close()


def test_presenting_mode_hides_what_it_names_and_nothing_else(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/training?hide=lr,intro&present=true&embed=true")
    ready(page, "Training")
    for key in ("tr_lr", "intro"):
        assert not page.locator(f".st-key-{key}").first.is_visible(), key
    for key in ("tr_epochs", "tr_optimizer", "tr_train"):
        assert page.locator(f".st-key-{key}").first.is_visible(), key
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"
    assert "embed=true" in page.url and "hide=lr" in page.url.replace("%2C", ",")
    page.close()
