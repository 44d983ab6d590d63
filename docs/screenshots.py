"""Remake the README's screenshots: start the app, drive it in Chromium, save PNGs in docs/images/.

    python docs/screenshots.py          # from the repository root; about a minute (one short training run)

Needs Playwright and Debian's Chromium (/usr/bin/chromium), as the browser tests do.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import app_server, chromium, wait_painted  # noqa: E402

OUT = ROOT / "docs" / "images"
VIEWPORT = {"width": 1400, "height": 900}
MAX_BYTES = 300_000


def save(page, name: str) -> None:
    """The viewport as a PNG, quantised to a palette if it would be over MAX_BYTES."""
    image = Image.open(io.BytesIO(page.screenshot()))
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    if buf.tell() > MAX_BYTES:
        buf = io.BytesIO()
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
    (OUT / name).write_bytes(buf.getvalue())
    print(f"{name}: {buf.tell() / 1000:.0f} KB")


def settle(page) -> None:
    """Until the script has stopped and no placeholder is left, then a moment for charts to finish drawing."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')"
                           " && !document.querySelector('[data-testid^=\"stSkeleton\"]')", timeout=120_000)  # fmt: skip
    page.wait_for_timeout(2000)


def scroll_to(page, selector: str, block: str = "start") -> None:
    """Scroll the page's element into view, clear of the top bar, with the mouse off any chart's toolbar."""
    page.locator(selector).first.evaluate(f"e => {{ e.style.scrollMarginTop = '75px'; e.scrollIntoView({{block: '{block}'}}) }}")
    page.mouse.move(800, 15)  # the empty top bar
    page.wait_for_timeout(500)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with chromium() as browser, app_server() as (url, _, _):
        page = browser.new_page(viewport=VIEWPORT)

        page.goto(f"{url}/architecture")
        wait_painted(page, "Architecture")
        page.locator("[data-testid=stDataFrame]").first.wait_for()
        settle(page)
        scroll_to(page, "[data-testid=stMetric]")  # totals, the shape diagram, the layer table
        save(page, "architecture.png")

        page.goto(f"{url}/convolution")
        wait_painted(page, "Convolution and pooling")
        page.get_by_role("tab", name="Step by step").click()
        settle(page)
        scroll_to(page, "[role=tablist]")
        save(page, "convolution.png")

        # a lesson link: the default shapes in random colours, jittered and cluttered, so that the curves have a shape
        page.goto(f"{url}/training?color_mode=random&position_jitter=0.2&rotation=30&clutter=2")
        wait_painted(page, "Training")
        page.get_by_role("button", name="Train").first.click()
        page.get_by_text("This session's runs").first.wait_for(timeout=600_000)  # the run has finished
        settle(page)
        scroll_to(page, "[data-testid=stPlotlyChart]", "end")  # the result, the runs, their curves
        save(page, "training.png")


if __name__ == "__main__":
    main()
