"""Hostile uploads through the pages: pixel bombs on every upload widget and a checkpoint describing a giant network
are refused with a message; what a user named (files, classes) is echoed as text, never rendered as markdown."""

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnn_core.nets.layers import layer
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.checkpoint import checkpoint_bytes
from tests.app.pictures import inline_gallery
from tests.eval_helpers import trained_run
from tests.helpers import open_page
from tests.image_files import layout, png_bomb, two_classes, zip_of
from ui.echo import plain

PHISH = "[session expired — sign in](https://evil.example)"  # a link, if rendered
TRACKER = "![x](https://evil.example/pixel.png)"  # an image fetched from elsewhere, if rendered


def _texts(elements) -> str:
    return " | ".join(e.value for e in elements)


def assert_inert(markdown: str) -> None:
    """No link, image, HTML tag or autolink can come out of this markdown."""
    assert not re.search(r"(?<!\\)\]\(", markdown), markdown  # [text](url) or ![alt](url)
    assert not re.search(r"(?<!\\)<[a-z/]", markdown), markdown
    assert not re.search(r"(?<!\\)://", markdown), markdown


UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@given(st.text(max_size=80))
def test_plain_text_reads_back_as_itself_and_leaves_nothing_active(text):
    shown = plain(text)
    assert UNESCAPE.sub(r"\1", shown) == "".join(c if c.isprintable() else " " for c in text)
    assert_inert(shown)
    assert not re.search(r"(?<!\\)[\[\]<>`*$|#~]", shown)


@pytest.fixture(scope="module")
def run():
    return trained_run(epochs=1)


def test_the_convolution_page_refuses_a_bomb_and_echoes_its_name_as_text():
    at = open_page("app_pages/convolution.py", conv_source="Upload")
    at.sidebar.file_uploader[0].upload(f"{PHISH}.png", png_bomb(), "image/png")
    at.run()
    error = _texts(at.error)
    assert not at.exception and "too large to open safely (7,000×7,000 pixels, 49 megapixels" in error
    assert "\\[session expired — sign in\\]" in error
    assert_inert(error)


def test_the_evaluation_page_refuses_a_bomb_as_your_image_and_a_giant_network_as_a_checkpoint(run):
    at = open_page("app_pages/evaluation.py", 120, active_run=run, ev_tab="Your image")  # only the open tab runs
    at.file_uploader(key="ev_upload_image").set_value((f"{TRACKER}.png", png_bomb(), "image/png")).run()
    error = _texts(at.error)
    assert not at.exception and "too large to open safely" in error and "megapixels" in error
    assert_inert(error)
    giant = ModelSpec((1, 8, 8), 10, (layer("flatten"), layer("linear", out_features=10**8),
                                      layer("linear", out_features=10)))  # fmt: skip
    data = checkpoint_bytes(dataclasses.replace(run, spec=giant, state_dict={}))
    at = open_page("app_pages/evaluation.py", 120)
    at.sidebar.radio(key="ev_source").set_value("upload").run()
    at.sidebar.file_uploader(key="ev_checkpoint").set_value((f"{PHISH}.pt", data, "application/octet-stream")).run()
    error = _texts(at.error)
    assert not at.exception and "too large for this server" in error
    assert_inert(error)


def my_images_zip(app, data: bytes, name: str):
    at = app("app_pages/dataset.py")
    at.sidebar.selectbox(key="ds_dataset").set_value("folder").run()
    at.radio(key="ds_my_source").set_value("zip").run()
    return at.file_uploader(key="ds_zip").set_value((name, data, "application/zip")).run()


def test_a_zip_of_many_large_images_is_refused_on_the_dataset_page(app):
    side = 5000  # 25 megapixels each: at the limit for one image, 50 of them past the budget for a set
    member = png_bomb(side, side)
    at = my_images_zip(app, zip_of({f"{'ab'[i % 2]}/{i}.png": member for i in range(100)}), f"{PHISH}.zip")
    error = _texts(at.error)
    assert not at.exception and "decoding these images would take more than 1,000 megapixels" in error
    assert_inert(error)


def test_class_names_from_a_zip_are_shown_as_text_everywhere(app):
    classes = two_classes(6)
    html = {"reds": "<b>bold</b> [a](https://evil.example)", "blues": "blues"}  # charts render a little HTML: refused
    at = my_images_zip(app, zip_of(layout({html[k]: v for k, v in classes.items()})), "html.zip")
    error = _texts(at.error)
    assert not at.exception and "angle brackets" in error
    assert_inert(error)
    names = {"reds": "bold [a](https://evil.example)", "blues": ":red[big] $x^2$ **loud**"}
    at = my_images_zip(app, zip_of(layout({names[k]: v for k, v in classes.items()})), "mine.zip")
    assert not at.exception and not at.error
    shown = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.sidebar.caption]
    mentions = [m for m in shown if "bold" in m or "loud" in m]
    assert len(mentions) >= 2  # the sidebar's classes, what is in use
    for markdown in mentions:
        assert_inert(markdown)
        assert ":red\\[big\\]" in markdown or "\\[a\\]" in markdown
    headings = sorted(name for name, _, _ in inline_gallery(at))  # the gallery's HTML: each name as its text
    assert headings == sorted(at.session_state["dataset"].classes) and any(":red[big]" in h for h in headings)
