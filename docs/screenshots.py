"""Remake the README's screenshots: start the app, drive it in Chromium, save PNGs in docs/images/.

    python docs/screenshots.py          # from the repository root; about a minute (one short training run)
    python docs/screenshots.py --lesson # every page in presenting mode (1400 wide) and at phone width (390 px)

Needs Playwright and Debian's Chromium (/usr/bin/chromium), as the browser tests do.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import app_server, chromium, nav_link, wait_painted  # noqa: E402

OUT = ROOT / "docs" / "images"
VIEWPORT = {"width": 1400, "height": 900}
MAX_BYTES = 300_000


def save(page, name: str, scale: float = 1.0, max_bytes: int = MAX_BYTES) -> None:
    """The viewport as a PNG (scaled by `scale`), quantised to a palette if it would be over `max_bytes`."""
    image = Image.open(io.BytesIO(page.screenshot()))
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    if buf.tell() > max_bytes:
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
        page.locator(".cnn-table").first.wait_for()  # the layer table (ui/static_table.py)
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


PAGES = {"home": "CNN Lab", "dataset": "Dataset", "convolution": "Convolution and pooling",
         "architecture": "Architecture", "training": "Training", "evaluation": "Evaluation",
         "experiments": "Experiments", "board": "Class board"}  # fmt: skip
PHONE = {"width": 390, "height": 844}


def lesson_shots() -> None:
    """Every page as a projector shows it (`present=true`, 1400 wide, saved at half size) and on a phone, after a
    short run, so that Training and Evaluation show a model: the pages are opened by the lab's own navigation, as a
    student would, which keeps the session (a fresh page load would start a new one)."""
    OUT.mkdir(parents=True, exist_ok=True)
    with chromium() as browser, app_server() as (url, _, _):
        for kind, viewport, query, scale in (("present", VIEWPORT, "&present=true", 0.5), ("phone", PHONE, "", 1.0)):
            page = browser.new_page(viewport=viewport)
            page.goto(f"{url}/training?n_per_class=60&seed=3{query}")  # the small-data default budget
            wait_painted(page, "Training")
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text("This session's runs").first.wait_for(timeout=600_000)
            for path, heading in PAGES.items():
                href = path if path != "home" else ""
                menu = page.get_by_role("button", name="Pages")  # a phone's menu at the top of the page
                if menu.is_visible():
                    menu.click()
                    page.locator(f"[data-testid=stPopoverBody] :is(a[href='{href}'], a[href^='{href}?'])").click()
                else:
                    page.locator(nav_link(href)).first.click()
                wait_painted(page, heading)
                settle(page)
                page.evaluate("window.scrollTo(0, 0)")
                save(page, f"{kind}-{path}.png", scale, max_bytes=20_000)  # 16 of them: each on a palette
            page.close()


if __name__ == "__main__":
    lesson_shots() if "--lesson" in sys.argv[1:] else main()
