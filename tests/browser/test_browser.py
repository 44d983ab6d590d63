"""A real browser on the running app: the root URL opens Home, and a zip of a learner's own images goes through
Streamlit's real upload path to become the dataset. (Every page by its own URL, each on a cold server, is in
test_routing.py.)"""

from tests.browser.pages import NAV, SHOTS, ready


def test_the_root_url_opens_home_without_an_exception(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server)
    ready(page, "CNN Lab")
    page.screenshot(path=str(SHOTS / "root.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator(f"{NAV} a").first.inner_text().strip().endswith("Home")
    assert not errors, errors
    page.close()


def test_a_zip_uploaded_in_the_browser_becomes_the_dataset(server, browser, tmp_path):
    from cnn_core.data.examples import example_zip

    path = tmp_path / "faces.zip"
    path.write_bytes(example_zip())
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/dataset")
    ready(page)
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_text("My images", exact=True).click()
    ready(page)
    page.get_by_text("A zip of class folders").click()
    ready(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    page.wait_for_selector("text=In use: 48 images", timeout=60_000)
    ready(page)
    page.screenshot(path=str(SHOTS / "dataset-my-images.png"), full_page=True)
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert values[:3] == ["48", "3×32×32", "2"], values
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()
