"""A lesson link through the app (AppTest, from the router): every lesson widget takes its value from the link and
writes it back to the URL, bad values are dropped with a notice and no traceback, and the presenting view's style
hides what the link names."""

import pytest

from tests.app.test_lesson import DESIGN, HARD, TRAIN
from ui.lesson.params import PARAMS, lesson_query
from ui.lesson.values import Choice, Number

PAGE_OF = {"data": "app_pages/dataset.py", "arch": "app_pages/architecture.py", "train": "app_pages/training.py"}
KINDS = ("slider", "select_slider", "number_input", "selectbox", "radio", "checkbox", "multiselect")


def widgets(at) -> dict:
    """Every keyed widget on the page, by key."""
    return {w.key: w for kind in KINDS for w in getattr(at, kind) if w.key}


def open_link(app, query: dict, page: str | None = None):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def url_query(at) -> dict:
    """The URL's query after the run, as the browser would show it."""
    return {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}


def widget_value(param, widget):
    value = widget.value
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("group", ["data", "arch", "train"])
def test_every_lesson_widget_takes_its_value_from_the_link_and_the_url_keeps_it(app, group):
    query = lesson_query(HARD, DESIGN, TRAIN.to_dict())
    at = open_link(app, query, PAGE_OF[group])
    assert not at.exception and not at.warning
    found = widgets(at)
    expected = {"data": HARD.to_dict(), "arch": DESIGN.to_dict(), "train": TRAIN.to_dict()}[group]
    for param in (p for p in PARAMS if p.group == group and p.field in expected):
        if param.name == "channels":
            got = tuple(found[f"arch_ch_{i}"].value for i in range(DESIGN.num_blocks))
        else:
            got = widget_value(param, found[param.key])
        assert got == pytest.approx(expected[param.field]) if isinstance(got, float) else got == expected[param.field], param.name
    assert url_query(at) == query


def test_a_bad_link_warns_once_keeps_the_defaults_and_shows_no_traceback(app):
    at = open_link(app, {"lr": "banana", "epochs": "1000", "size": "7", "colour": "red"}, "app_pages/training.py")
    assert not at.exception
    at2 = open_link(app, {"lr": "banana", "epochs": "1000", "size": "7", "colour": "red"})
    notices = at2.warning[0].value
    for text in ("lr=` banana ` was ignored", "epochs=` 1000 ` was ignored", "size=` 7 ` was ignored", "colour"):
        assert text in notices
    assert at.select_slider(key="tr_lr").value == 1e-3 and at.session_state["data_config"].size == 32
    assert url_query(at) == {}  # nothing of the bad link stays in the URL


def test_the_presenting_style_hides_what_the_link_names_and_nothing_else(app):
    at = open_link(app, {"hide": "lr,intro", "present": "true"}, "app_pages/training.py")
    styles = " ".join(h.proto.body for h in at.get("html"))
    assert ".st-key-tr_lr" in styles and ".st-key-intro" in styles and "font-size: 24px" in styles
    assert ".st-key-tr_epochs" not in styles and ".st-key-tr_train" not in styles
    assert {"hide": "lr,intro", "present": "true"}.items() <= url_query(at).items()


def test_the_link_control_offers_the_lesson_and_a_presenting_link(app):
    at = open_link(app, {"epochs": "3"}, "app_pages/training.py")
    assert at.get("code")[-1].value == "?epochs=3"  # AppTest has no browser address: the link is relative
    at.multiselect(key="lesson_link_hide").set_value(["lr", "sidebar"])
    at.checkbox(key="lesson_link_present").check().run()
    assert at.get("code")[-1].value.endswith("epochs=3&hide=lr,sidebar&present=true")


@pytest.mark.parametrize("group", ["data", "arch", "train"])
def test_the_links_limits_are_the_widgets_limits_and_the_hide_picker_uses_their_labels(app, group):
    from ui.lesson.params import LABELS

    at = open_link(app, {}, PAGE_OF[group])
    found = widgets(at)
    assert {p.name: LABELS[p.name] for p in PARAMS if p.key in found} == {
        p.name: found[p.key].label for p in PARAMS if p.key in found}  # fmt: skip
    for param in (p for p in PARAMS if p.group == group and p.key in found):
        widget, domain = found[param.key], param.domain("shapes")
        if isinstance(domain, Number) and hasattr(widget, "min"):
            assert (widget.min, widget.max) == (domain.low, domain.high), param.name
            if getattr(widget, "step", None):
                assert widget.step == pytest.approx(domain.step), param.name
        elif isinstance(domain, Choice) and hasattr(widget, "options") and param.name != "dataset":  # no uploads
            assert len(widget.options) == len(domain.options), param.name


def block_ids(node) -> list[str]:
    """The ids of the keyed containers under `node` (a keyed container's id ends with its key)."""
    children = node.children.values() if isinstance(node.children, dict) else node.children
    own = [node.proto.id] if getattr(getattr(node, "proto", None), "id", "") else []
    return own + [i for child in children if hasattr(child, "children") for i in block_ids(child)]


def nav_queries(at) -> list[str]:
    """The query string of each page link the router drew (the sidebar's and the phone menu's)."""
    return [link.proto.query_string for link in at.get("page_link")]


def test_the_navigation_is_drawn_once_a_run_unless_the_page_changed_the_lesson_and_then_carries_the_new_one(app):
    at = open_link(app, {"noise": "0.3"}, "app_pages/dataset.py")
    pages = len(at.get("page_link"))
    assert pages == 16  # 8 pages, in the sidebar and in the phone's menu: drawn before the page, not again after it
    assert all("noise=0.3" in q for q in nav_queries(at))
    navs = [i for i in block_ids(at._tree) if i.endswith(("lesson_nav", "phone_nav", "lesson_nav_early", "phone_nav_early"))]
    assert sorted(i.rsplit("-", 1)[1] for i in navs) == ["lesson_nav_early", "phone_nav_early"]  # not drawn again
    at.slider(key="ds_noise").set_value(0.2).run()  # the page changes the lesson: the links are drawn again with it
    assert all("noise=0.2" in q for q in nav_queries(at)) and len(at.get("page_link")) == pages
    assert {"lesson_nav", "phone_nav"} <= {i.rsplit("-", 1)[1] for i in block_ids(at._tree)}
    assert url_query(at)["noise"] == "0.2"
