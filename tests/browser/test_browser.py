"""A real browser opens every page of the running app: no exception box, and a screenshot of each."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.browser.pages import ready, router_pages

SHOTS = Path(os.environ.get("CNN_LAB_SCREENSHOTS") or tempfile.mkdtemp(prefix="cnn-lab-shots-"))


@pytest.mark.parametrize("path", ["" if default else name for name, _, default in router_pages()])
def test_every_page_opens_in_a_real_browser_without_an_exception(server, browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/{path}")
    ready(page)
    page.wait_for_timeout(500)  # the last images drawn, for the screenshot
    shot = SHOTS / f"{path or 'home'}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0, f"exception box on /{path}; see {shot}"
    assert page.locator("h1").count() >= 1, f"no page title on /{path}; see {shot}"
    assert not errors, errors
    page.close()
