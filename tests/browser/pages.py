"""The app's pages as a browser test sees them: the router's list, and waiting until a page is ready."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from benchmarks._server import NAV, nav_link  # noqa: F401 (the browser tests take them from here)
from tests.conftest import ROOT

SHOTS = Path(os.environ.get("CNN_LAB_SCREENSHOTS") or tempfile.mkdtemp(prefix="cnn-lab-shots-"))  # for people to look at


def router_pages() -> list[tuple[str, str, bool]]:
    """(URL path, title, default) of every page the router lists."""
    router = (ROOT / "streamlit_app.py").read_text()
    found = re.findall(r'st\.Page\("\w+/(\w+)\.py", title="([^"]+)"[^)]*?(default=True)?\)', router)
    return [(name, title, bool(default)) for name, title, default in found]


def quiet(page, timeout_s: float) -> None:
    """Wait until the page has had no "Running…" widget and no placeholder for a whole second."""
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if page.locator("[data-testid='stStatusWidget'], [data-testid='stSkeleton']").count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page was still busy after {timeout_s:.0f} s")


def ready(page, heading: str | None = None, timeout_s: float = 120) -> None:
    """The page's heading (any title, or an exception box, when None) shows and the page is quiet."""
    if heading is None:
        page.wait_for_selector("[data-testid='stMain'] h1, [data-testid='stException']", timeout=timeout_s * 1000)
    else:
        page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout_s * 1000)
    quiet(page, timeout_s)
