"""A lesson that holds, in Chromium: a link's network stays the network on every page and in the URL; one history
entry per page visit; a hostile value in a link is echoed as code, not rendered."""

from __future__ import annotations

import time

import pytest

from benchmarks._server import app_server
from cnn_core.study.board import PASSPHRASE_VAR
from tests.browser.pages import NAV, ready

PASSPHRASE = "chalk and talk"


@pytest.fixture(scope="module")
def server():
    """One server for this module, with a teacher's passphrase (the clear test needs one)."""
    with app_server(env={PASSPHRASE_VAR: PASSPHRASE}) as (url, _, _):
        yield url


def nav(page, title: str, heading: str | None = None) -> None:
    page.locator(f"{NAV} a", has_text=title).click()
    ready(page, heading or title)


def test_a_links_network_survives_a_visit_to_architecture_and_stays_in_the_url(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/training?arch=lenet5&epochs=3")
    ready(page, "Training")
    nav(page, "Architecture")
    assert "LeNet" in page.locator(".st-key-arch_preset input").input_value()
    assert "arch=lenet5" in page.url
    nav(page, "Training")
    assert "arch=lenet5" in page.url and "epochs=3" in page.url
    assert "your network from the Architecture page" in page.locator("[data-testid='stCaptionContainer']",
                                                                     has_text="Model:").first.inner_text()
    page.close()


def test_each_page_visit_adds_one_history_entry_and_back_returns_with_the_lesson(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/training?epochs=3&lr=0.01")
    ready(page, "Training")
    start = page.evaluate("history.length")
    nav(page, "Dataset")
    nav(page, "Architecture")
    page.wait_for_timeout(500)
    assert page.evaluate("history.length") - start == 2
    page.go_back()
    ready(page, "Dataset")
    assert "epochs=3" in page.url and page.url.split("?")[0].endswith("/dataset")
    page.go_back()
    ready(page, "Training")
    assert "epochs=3" in page.url and "lr=0.01" in page.url
    page.close()


def test_a_hostile_link_value_is_quoted_as_code_not_rendered(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    evil = "[Session expired, sign in](https://evil.example/login)![](https://evil.example/t.gif)" + "x" * 5000
    page.goto(f"{server}/training?lr={evil}")
    ready(page, "Training")
    warning = page.locator("[data-testid='stAlertContentWarning']").first
    assert warning.locator("a, img").count() == 0
    assert warning.locator("code").count() >= 1
    assert len(warning.inner_text()) < 600
    page.close()


def test_the_board_name_survives_a_reload_and_a_rename_too(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/board")
    ready(page, "Class board")
    field = page.locator(".st-key-board_who input")
    first = field.input_value()
    page.reload()
    ready(page, "Class board")
    assert field.input_value() == first
    field.fill("Ada L")
    field.press("Enter")
    ready(page, "Class board")
    page.reload()
    ready(page, "Class board")
    assert field.input_value() == "Ada L"
    context.close()


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_progress_shows_in_view_after_train_and_a_reload_finds_the_run_still_training(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/training?n_per_class=80&epochs=60&seed=11")  # a run of its own (no other test trains it)
    ready(page, "Training")
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator(".st-key-tr_stop").wait_for(timeout=60_000)
    assert in_viewport(page, ".st-key-tr_stop"), "Stop (and the progress beside it) is below the fold"
    page.reload()  # a new session: the run goes on on the server
    page.get_by_text("Your run of these settings is still training").wait_for(timeout=60_000)
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("Stopped for everyone").wait_for(timeout=60_000)
    context.close()


def test_the_faces_example_trains_past_chance_at_the_defaults(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/dataset")
    ready(page, "Dataset")
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_text("My images", exact=True).click()
    ready(page)
    page.locator(".st-key-ds_use_example button").click()
    page.wait_for_selector("text=In use: 48 images", timeout=60_000)
    nav(page, "Training")
    page.get_by_role("button", name="Train", exact=True).click()
    result = page.locator("[data-testid='stAlertContainer']", has_text="Validation accuracy")
    result.first.wait_for(timeout=240_000)
    text = result.first.inner_text()
    assert text.startswith("Completed") and "chance" not in text, text
    page.close()


def test_clearing_a_lesson_asks_first_says_what_it_cleared_and_forgets_the_passphrase(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/training?n_per_class=10&epochs=1&seed=21")  # a run of its own on the board, whatever ran before
    ready(page, "Training")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Active model").first.wait_for(timeout=120_000)
    nav(page, "Class board")
    passphrase = page.locator(".st-key-board_passphrase input")

    def open_teacher():
        if not passphrase.is_visible():
            page.locator("[data-testid='stExpander'] summary", has_text="For the teacher").click()

    open_teacher()
    passphrase.fill(PASSPHRASE)
    page.get_by_role("button", name="Clear this lesson").click()
    page.get_by_text("this can't be undone").wait_for(timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    ready(page, "Class board")
    open_teacher()
    assert passphrase.input_value() == ""
    passphrase.fill(PASSPHRASE)
    page.get_by_role("button", name="Clear this lesson").click()
    page.get_by_role("button", name="Yes, clear").click()
    page.get_by_text("passphrase was forgotten").wait_for(timeout=30_000)
    page.close()


FITTED = ", ".join(["[data-testid='stMain'] h1", "[data-testid='stMetricValue']", "[data-testid='stMetricValue'] *",
                    "[data-testid='stMetricLabel']", "[data-testid='stMetricLabel'] *",
                    "[data-testid='stMain'] [data-baseweb='tag'] span"])  # fmt: skip
CLIPPED = ("s => [...document.querySelectorAll(s)].filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)"
           ".map(e => e.textContent.slice(0, 30))")


TABLE_OVER = ("() => [...document.querySelectorAll('table.cnn-table')]"  # ui/static_table.py: in its scrolling box
              ".map(t => t.getBoundingClientRect().right - t.parentElement.getBoundingClientRect().right)")


def test_presenting_mode_clips_no_title_metric_or_chip_at_projector_widths(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for width in (1280, 1400, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        for path, heading in (("architecture", "Architecture"), ("dataset", "Dataset")):
            page.goto(f"{server}/{path}?present=true")
            ready(page, heading)
            assert page.evaluate(CLIPPED, FITTED) == [], (width, path)
            if path == "architecture" and width >= 1400:  # at 1280 beside the sidebar its 11 columns scroll
                over = page.evaluate(TABLE_OVER)
                assert over and max(over) <= 1, (width, over)
    page.close()


SHRUNK = """() => [...document.querySelectorAll('[data-testid=stMain] img')]
  .filter(i => Math.abs(i.naturalWidth - i.getBoundingClientRect().width) > 1).map(i => i.naturalWidth)"""


@pytest.mark.parametrize("widths, view", [((390,), ""), ((1280, 1400, 1920), "?present=true")])
def test_the_convolution_pages_tables_fit_and_its_pictures_keep_their_pixels(browser, server, widths, view):
    """On a phone and at projector widths: no table of numbers (kernel, close-up, products) wider than its column,
    and every picture at its own size (a picture stretched or shrunk by the browser is smoothed: no crisp pixels)."""
    page = browser.new_page(viewport={"width": widths[0], "height": 1000})
    page.goto(f"{server}/convolution{view}")
    ready(page, "Convolution and pooling")
    for tab in ("Convolution", "Step by step", "Pooling", "All kernels"):
        page.get_by_role("tab", name=tab).first.click()
        ready(page, "Convolution and pooling")
        for width in widths:
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(300)  # the layout settles after the resize
            over = page.evaluate(TABLE_OVER)
            assert not over or max(over) <= 1, (width, tab, over)
            assert page.evaluate(SHRUNK) == [], (width, tab)
    page.close()


REPORT_CLIPPED = """() => {
  const t = document.querySelector('.st-key-ev_report_table table');
  const cells = [...t.querySelectorAll('th, td')].filter(e => e.scrollWidth > e.clientWidth + 1);
  const box = t.closest('[data-testid="stColumn"]') || t.parentElement;  // a table wider than its box scrolls
  return {cells: cells.map(e => e.textContent.slice(0, 30)),
          header: [...t.querySelectorAll('thead th')].map(e => e.textContent.trim()),
          over: t.getBoundingClientRect().right - box.getBoundingClientRect().right};
}"""


def test_presenting_mode_clips_no_column_of_the_evaluation_report(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/training?n_per_class=20&epochs=2&seed=5&present=true")  # the curves test's run: cached
    ready(page, "Training")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Active model").first.wait_for(timeout=120_000)
    nav(page, "Evaluation")
    for width in (1280, 1400, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator(".st-key-ev_report_table table").wait_for(timeout=30_000)
        page.wait_for_timeout(300)  # the layout settles after the resize
        shown = page.evaluate(REPORT_CLIPPED)
        assert shown["cells"] == [] and shown["over"] <= 1, (width, shown)
        assert {"precision", "recall", "f1", "support"} <= set(shown["header"]), shown["header"]
        over = page.evaluate(TABLE_OVER)  # the confusion matrix's table too
        assert len(over) == 2 and max(over) <= 1, (width, over)
        assert page.evaluate(CLIPPED, FITTED) == [], width
    page.close()


def test_a_phone_opens_pages_from_a_menu_on_the_page_and_the_sidebar_stays_out_of_the_way(browser, server):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{server}/dataset?n_per_class=30")
    ready(page, "Dataset")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_attribute("data-collapsed") == "true"  # a phone starts with the sidebar folded away
    page.get_by_role("button", name="Pages").click()
    page.locator("[data-testid=stPopoverBody] a", has_text="Training").click()
    ready(page, "Training")
    assert "/training?" in page.url and "n_per_class=30" in page.url  # the lesson goes with the menu's links
    assert sidebar.get_attribute("data-collapsed") == "true"  # nothing left open over the page it opened
    page.set_viewport_size({"width": 1400, "height": 900})  # a wide screen has the sidebar's links, not the menu
    page.wait_for_timeout(300)
    assert not page.get_by_role("button", name="Pages").is_visible()
    page.close()


def test_show_leaves_no_empty_card_and_a_show_of_nothing_known_hides_nothing(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/training?show=lr,train")
    ready(page, "Training")
    assert page.locator(".st-key-tr_lr").first.is_visible() and page.locator(".st-key-tr_card_optimizer").is_visible()
    for card in ("tr_card_schedule", "tr_card_loop", "tr_card_augment", "tr_card_precision"):
        assert not page.locator(f".st-key-{card}").is_visible(), card
    page.goto(f"{server}/training?show=nothing")
    ready(page, "Training")
    assert page.locator(".st-key-tr_epochs").first.is_visible()
    assert "ignored as a whole" in page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
    page.close()


BOXES = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const plot = document.querySelector('.js-plotly-plot');
  return {titles: [...plot.querySelectorAll('.annotation-text, .g-xtitle text, .g-x2title text, .g-x3title text')]
                  .map(box), legend: [...plot.querySelectorAll('.legend .traces')].map(box)};
}"""


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("width, view", [(390, ""), (1400, "&present=true")])
def test_the_training_curves_titles_and_legend_never_overlap_on_a_phone_or_a_projector(browser, server, width, view):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{server}/training?n_per_class=20&epochs=2&seed=5{view}")  # its own tiny run, shared by both widths
    ready(page, "Training")
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator(".js-plotly-plot .legend").first.wait_for(timeout=120_000)
    ready(page, "Training")
    boxes = page.evaluate(BOXES)
    texts = boxes["titles"] + boxes["legend"]
    clashes = [(a, b) for i, a in enumerate(texts) for b in texts[i + 1:] if overlaps(a, b)]
    assert len(boxes["titles"]) >= 4 and not clashes, clashes  # three panel titles and at least one "epoch"
    page.close()


def test_quick_arrow_presses_on_a_slider_leave_the_slider_and_the_url_in_step(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/training?epochs=3")
    ready(page, "Training")
    thumb = page.locator(".st-key-tr_epochs [aria-valuetext]")
    thumb.focus()
    for _ in range(6):  # faster than a rerun: each press asks for one while the last one's URL is on its way
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(60)
    ready(page, "Training")
    deadline = time.monotonic() + 20  # the reruns the presses asked for may still be on their way on a busy machine
    while True:
        shown = thumb.get_attribute("aria-valuetext")
        if (shown == "9" and "epochs=9" in page.url) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert shown == "9" and "epochs=9" in page.url, (shown, page.url)  # in step, and at what was pressed
    page.reload()  # the URL holds what the slider showed
    ready(page, "Training")
    assert page.locator(".st-key-tr_epochs [aria-valuetext]").get_attribute("aria-valuetext") == "9"
    page.close()
