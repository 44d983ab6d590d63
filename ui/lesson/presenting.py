"""Presenting mode: `hide=a,b` hides the controls and explanations it names, `show=a,b` every lesson setting it
doesn't name, and `present=true` sets large type for a projector; each page's opening explanation is one of the
things a teacher may hide (`intro`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cnn_core.nets.blocks import MAX_BLOCKS
from ui.lesson.params import BY_NAME, LABELS, PAGES, PARAMS
from ui.lesson.values import FALSE, TRUE, quote, quote_list
from ui.train_widgets import CARDS

# Not settings, but things a teacher may hide: the Train button, each page's opening explanation, the sidebar.
INTRO = "intro"  # the key of each page's opening explanation (see `intro`)
EXTRA_HIDEABLE = {"train": "tr_train", "intro": INTRO, "copy_link": "lesson_link"}
EXTRA_LABELS = {"train": "Training · The Train button", "intro": "Every page · Its opening explanation",
                "copy_link": "Sidebar · Copy link to this lesson", "sidebar": "Layout · The whole sidebar",
                "nav": "Layout · The page navigation"}  # fmt: skip


def hide_label(name: str) -> str:
    """How the hide picker shows a hideable name: its page and the widget's own label (`hide=` takes the name)."""
    if name in EXTRA_LABELS:
        return EXTRA_LABELS[name]
    return f"{PAGES[BY_NAME[name].group]} · {LABELS[name]}"
LAYOUT_HIDEABLE = {"sidebar": ('[data-testid="stSidebar"]', '[data-testid="stSidebarCollapsedControl"]'),
                   "nav": ("[class*='st-key-lesson_nav']", "[class*='st-key-phone_nav']")}  # fmt: skip


# Large type must not clip: metrics, titles and chips wrap instead of ending in "…", and the charts' own text (drawn
# by Plotly at fixed pixel sizes) is enlarged with the rest.
PRESENT_FIT = (
    "[data-testid='stMetricValue'], [data-testid='stMetricValue'] *, [data-testid='stMetricLabel'], "
    "[data-testid='stMetricLabel'] *, [data-testid='stMain'] h1, [data-testid='stMain'] h2, [data-testid='stMain'] h3, "
    "[data-testid='stMain'] [data-baseweb='tag'] span { white-space: normal !important; overflow: visible !important; "
    "text-overflow: clip !important; overflow-wrap: break-word; }\n"
    "[data-testid='stMain'] [data-testid='stMetricLabel'] p { font-size: 0.7rem !important; }\n"
    "[data-testid='stMetricValue'] { font-size: 1.3rem !important; line-height: 1.2; }\n"
    "[data-testid='stMain'] h1 { font-size: 2rem !important; }\n"
    "[data-testid='stMain'] [data-baseweb='tag'] { height: auto !important; max-width: 100% !important; }\n"
    ".js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .legendtext, .js-plotly-plot .gtitle, "
    ".js-plotly-plot .g-xtitle text, .js-plotly-plot .g-ytitle text, .js-plotly-plot .annotation-text, "
    ".shape-flow text { font-size: 16px !important; }\n"
)


@dataclass(frozen=True)
class View:
    hidden_keys: tuple[str, ...] = ()  # widget and container keys to hide
    hidden_layout: tuple[str, ...] = ()  # "sidebar", "nav"
    present: bool = False  # large type for a projector
    notices: tuple[str, ...] = ()


def parse_view(view: Mapping[str, str]) -> View:
    """`hide=a,b` hides what it names; `show=a,b` hides every lesson setting it doesn't name; `present=true`."""
    notices, keys, layout = [], [], []
    hideable = {**{p.name: p.key for p in PARAMS}, **EXTRA_HIDEABLE}

    def names(param: str) -> list[str]:
        items = [t.strip() for t in view.get(param, "").split(",") if t.strip()]
        bad = [t for t in items if t not in hideable and t not in LAYOUT_HIDEABLE]
        good = [t for t in items if t not in bad]
        if bad:
            named = quote_list(bad)
            what = "ignored" if good else f"{param}= is ignored as a whole"
            notices.append(f"The link's {param}= names {named}, which this lab doesn't have: {what}.")
        return good

    for name in names("hide"):
        (layout if name in LAYOUT_HIDEABLE else keys).append(name if name in LAYOUT_HIDEABLE else hideable[name])
    shown = set(names("show")) if "show" in view else set()
    if shown:  # a show= that names nothing this lab has is ignored, as its notice says (not "hide everything")
        keys += [p.key for p in PARAMS if p.name not in shown]
        if any(p.name == "channels" for p in PARAMS) and "channels" not in shown:
            keys += [f"arch_ch_{i}" for i in range(MAX_BLOCKS)]  # the channel inputs are one widget per block
    if "channels" in view.get("hide", "").split(","):
        keys += [f"arch_ch_{i}" for i in range(MAX_BLOCKS)]
    present = view.get("present", "false").lower()
    if present not in TRUE + FALSE:
        notices.append(f"The link's present={quote(present)} was ignored: expected true or false.")
    hidden = set(keys)
    keys += [card for card, fields in CARDS.items() if {f"tr_{f}" for f in fields} <= hidden]  # no empty cards
    return View(tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(layout)), present in TRUE, tuple(notices))


def view_css(view: View) -> str:
    """The style sheet of a presenting view: hidden elements, and large type when presenting."""
    rules = [f".st-key-{key}" for key in view.hidden_keys]
    rules += [".st-key-lesson_link_early"] if "lesson_link" in view.hidden_keys else []
    rules += [selector for name in view.hidden_layout for selector in LAYOUT_HIDEABLE[name]]
    css = f"{', '.join(rules)} {{ display: none !important; }}\n" if rules else ""
    if view.present:
        css += ("html { font-size: 24px; }\n"
                "[data-testid='stMain'] .stMarkdown p, [data-testid='stMain'] label p, [data-testid='stCaptionContainer'] "
                "{ font-size: 1.15rem !important; }\n"
                "[data-testid='stMainBlockContainer'] { max-width: 100%; padding-top: 4rem; }\n" + PRESENT_FIT)  # fmt: skip
    return css


def intro(text: str) -> None:
    """A page's opening explanation, in a container that `hide=intro` can hide."""
    import streamlit as st

    st.container(key=INTRO).markdown(text)
