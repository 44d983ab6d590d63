"""Routing with public APIs only, in Chromium: a deep link to any page (`/home` included) on a cold server gets the
router's navigation and layout, with no exception box and no error in the page's JavaScript (a screenshot of
each); a lesson link fills the widgets, the URL follows the lesson from page to page, and presenting mode hides
what it names and nothing else."""

from __future__ import annotations

import pytest

from benchmarks._server import app_servers
from tests.browser.pages import NAV, SHOTS, nav_link, ready, router_pages

PAGES = router_pages()
TITLES = [title for _, title, _ in PAGES]
HEADINGS = {"Home": "CNN Lab"}  # a page whose heading differs from its title in the navigation


@pytest.fixture(scope="module")
def cold_servers():
    """A fresh server for each page, all started at once: no session has run the router on any of them."""
    with app_servers(len(PAGES)) as servers:
        yield {path: url for (path, _, _), (url, _, _) in zip(PAGES, servers)}


def test_the_router_lists_every_page_and_home_is_the_default():
    assert [p for p in PAGES if p[2]] == [("home", "Home", True)] and len(PAGES) >= 7


@pytest.mark.parametrize("path, title", [(name, title) for name, title, _ in PAGES])
def test_a_deep_link_on_a_cold_server_gets_the_routers_navigation(browser, cold_servers, path, title):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{cold_servers[path]}/{path}")
    ready(page, HEADINGS.get(title, title))
    page.wait_for_timeout(500)  # the last images drawn, for the screenshot
    shot = SHOTS / f"{path}.png"
    page.screenshot(path=str(shot), full_page=True)
    links = [a.inner_text().strip().splitlines()[-1] for a in page.locator(f"{NAV} a").all()]  # the icon's name first
    assert links == TITLES, links  # the router's titles and order, not Streamlit's file names
    weight = "e => getComputedStyle(e.querySelector('p')).fontWeight"
    bold = [a.inner_text().strip().splitlines()[-1] for a in page.locator(f"{NAV} a").all() if int(a.evaluate(weight)) > 500]
    assert bold == [title], bold  # the current page's link, in bold
    assert page.locator("[data-testid='stException']").count() == 0, f"exception box on /{path}; see {shot}"
    assert not errors, errors  # no error in the page's JavaScript either
    assert page.url.split("?")[0].rstrip("/").endswith(path) or path == "home"
    page.close()


def test_a_lesson_link_fills_the_widgets_and_the_url_follows_it_from_page_to_page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/training?epochs=3&lr=0.01&noise=0.123&bogus=1")
    ready(page, "Training")
    warning = page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
    assert "noise=0.123 was rounded to 0.12" in " ".join(warning.split()) and "bogus" in warning
    assert page.locator(".st-key-tr_epochs [aria-valuetext]").get_attribute("aria-valuetext") == "3"
    page.locator(nav_link("dataset")).click()
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
