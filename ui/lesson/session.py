"""The app's side of a lesson link, called by the router: a link's lesson put into the session when a session
opens it (`open_link`), the session's lesson written back to the URL after every run, and the "Copy link to this
lesson" control that offers it (`sync`)."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import MAX_BLOCKS, BlockDesign, design_of
from cnn_core.nets.presets import NETWORKS
from cnn_core.nets.presets import network as named_network
from cnn_core.nets.spec import ModelSpec
from ui.lesson.params import LINK_DATASETS, PARAMS, VIEW_PARAMS, Link, lesson_query, lesson_url, parse_link, train_defaults
from ui.lesson.presenting import EXTRA_HIDEABLE, LAYOUT_HIDEABLE, hide_label, parse_view, view_css
from ui.state import DATA_CONFIG, DATASET
from ui.train_widgets import SAVED as TRAIN_VALUES

LINK_STATE = "lesson_query"  # session key: the lesson's query as last read from or written to the URL
WRITTEN = "lesson_written"  # session key: the queries this session wrote to the URL, most recent last
MAX_WRITTEN = 64
VIEW_STATE = "lesson_view"  # session key: the presenting-mode parameters the session was opened with
NETWORK_STATE = "arch_lesson_network"  # session key: the network a link named (a name or a BlockDesign); the
# arch_ prefix lets the Architecture page's "Reset to defaults" forget it with the rest
MODEL_SPEC = "model_spec"  # session key: the network the Training page trains (set by the Architecture page)
TRAIN_DEFAULTS_FOR = "tr_defaults_for"  # session key: the dataset the Training page's saved values are for


def open_link() -> None:
    """Before the page runs: apply a link's lesson the first time a session sees it, say what was dropped, and
    style the presenting view."""
    ss = st.session_state
    query = st.query_params.to_dict()
    if VIEW_STATE not in ss:
        ss[VIEW_STATE] = {k: query[k] for k in VIEW_PARAMS if k in query}
    lesson = {k: v for k, v in query.items() if k not in VIEW_PARAMS}
    notices: list[str] = []
    if lesson and lesson != ss.get(LINK_STATE) and _key(lesson) not in ss.get(WRITTEN, ()):
        # A query this session wrote is no new link: a rerun that a quick key press asked for before the last write
        # reached the browser carries the URL before it, and Back returns to one; neither may undo a newer choice.
        link = parse_link(query)
        apply_link(link)
        notices += link.notices
        ss[LINK_STATE] = lesson
    view = parse_view(ss[VIEW_STATE])
    if "lesson_view_checked" not in ss:
        ss.lesson_view_checked = True
        notices += view.notices
    if notices:
        st.warning("\n".join(f"- {n}" for n in notices), icon=":material/link_off:")
    if css := view_css(view):
        st.html(f"<style>{css}</style>")


def presenting() -> bool:
    """Whether this session was opened in presenting mode (large type): pages stack what sits side by side."""
    return parse_view(st.session_state.get(VIEW_STATE, {})).present


BOARD_BUDGET = "board_budget_saved"  # session key: the class board's parameter budget, kept while on other pages


def apply_link(link: Link, spec: ModelSpec | None = None) -> None:
    """Put a checked link's lesson into the session, where the pages seed their widgets from. `spec`: a network
    that the link can't name (a board run's layer list): the lesson's network until the student changes it."""
    ss = st.session_state
    if link.data:
        ss[DATA_CONFIG] = link.data_config()
        ss.pop(DATASET, None)
        _forget("data")
    data = ss.get(DATA_CONFIG) or DataConfig()
    if link.train:
        ss[TRAIN_VALUES] = {**train_defaults(data), **link.train}
        ss[TRAIN_DEFAULTS_FOR] = data.key()
        _forget("train")
    if link.board:
        ss[BOARD_BUDGET] = link.board["max_params"]
        _forget("board")
    network = link.design() or link.arch.get("preset") or spec
    if network is not None:
        ss[NETWORK_STATE] = network
        ss[MODEL_SPEC] = network_spec(network, data)
        _forget("arch", "arch_saved", "arch_current", *(f"arch_ch_{i}" for i in range(MAX_BLOCKS)))


def network_spec(network: str | BlockDesign | ModelSpec, data: DataConfig) -> ModelSpec:
    """The ModelSpec of a preset, a block design or a spec for a dataset's images and classes."""
    shape = (data.channels, data.size, data.size)
    if isinstance(network, str):
        return named_network(network, shape, len(data.classes))
    if isinstance(network, ModelSpec):
        return network.with_io(shape, len(data.classes))
    return network.to_spec(shape, len(data.classes))


def network_of(spec: ModelSpec) -> str | BlockDesign | ModelSpec:
    """How a lesson names a trained network: the preset it is, else its block design, else the spec itself."""
    for name in NETWORKS:
        try:
            if named_network(name, spec.input, spec.num_classes) == spec:
                return name
        except ValueError:
            continue
    return design_of(spec) or spec


def _forget(group: str, *extra: str) -> None:
    """Drop the group's widget values (and `extra` keys), so that the pages seed them afresh from the lesson."""
    for key in [p.key for p in PARAMS if p.group == group] + list(extra):
        st.session_state.pop(key, None)


def current_network() -> str | BlockDesign | None:
    """The session's network as a link can say it: the Architecture page's preset when its blocks weren't changed,
    else its block design; the link's network before that page is visited; None before any choice."""
    ss = st.session_state
    saved = ss.get("arch_saved")
    if not saved:  # a layer list (a board run's) can't go in a link: the URL then names no network
        linked = ss.get(NETWORK_STATE)
        return None if isinstance(linked, ModelSpec) else linked
    name = saved.get("arch_preset", "simple_cnn")
    if saved.get("arch_mode", "blocks") != "blocks":
        return name  # layer-by-layer edits don't fit in a link: the link names the preset they started from
    try:
        fields = {f: saved[f"arch_{f}"] for f in BlockDesign.__dataclass_fields__ if f"arch_{f}" in saved}
        fields["channels"] = tuple(int(saved[f"arch_ch_{i}"]) for i in range(int(saved["arch_num_blocks"])))
        design = BlockDesign(**fields)
    except (KeyError, TypeError, ValueError):
        return name
    data = ss.get("data_config") or DataConfig()
    try:
        same = design_of(network_spec(name, data)) == design
    except ValueError:
        same = False
    return name if same else design


def current_query() -> dict[str, str]:
    """The session's lesson as query parameters."""
    ss = st.session_state
    data = ss.get(DATA_CONFIG) or DataConfig()
    train = ss.get(TRAIN_VALUES) if ss.get(TRAIN_DEFAULTS_FOR) == data.key() else None
    if data.dataset not in LINK_DATASETS:
        return {}
    return lesson_query(data, current_network(), train, {"max_params": ss.get(BOARD_BUDGET, 0)})


def sync(slot, early: bool = False) -> dict[str, str]:
    """The URL shows the session's lesson, and `slot` (a sidebar placeholder) offers the link; returns the URL's
    query (the lesson and the presenting view), for the navigation's links.

    The router calls it twice: early, before the page (what the session held when the last run ended), because a
    page that calls st.stop() ends the run and nothing drawn after it reaches the browser; then after the page,
    with what the page just chose, replacing the early control and adding the presenting-link options."""
    ss = st.session_state
    query = current_query()
    view = ss.get(VIEW_STATE, {})
    if not early:
        if st.query_params.to_dict() != {**query, **view}:
            st.query_params.from_dict({**query, **view})
        ss[LINK_STATE] = query
        written = [k for k in ss.get(WRITTEN, []) if k != _key(query)]
        ss[WRITTEN] = [*written, _key(query)][-MAX_WRITTEN:]
    with slot.container(key="lesson_link_early" if early else "lesson_link"):
        link_control(query, options=not early)
    return {**query, **view}


def _key(query: Mapping[str, str]) -> tuple:
    return tuple(sorted(query.items()))


def link_control(query: Mapping[str, str], options: bool = True) -> None:
    """A "Copy link to this lesson" popover: the link, and (with `options`) choices for a presenting link."""
    base = st.context.url or ""
    with st.popover("Copy link to this lesson", icon=":material/link:", width="stretch",
                    key="lesson_link_pop" if options else "lesson_link_pop_early",  # stays open while picking
                    help="A link that opens this page with your dataset, network and training settings."):  # fmt: skip
        st.caption("Students who open this link start from your dataset, network and training settings, on this page.")
        view = {}
        if options:
            hide = st.multiselect("Hide from students", [*(p.name for p in PARAMS), *EXTRA_HIDEABLE, *LAYOUT_HIDEABLE],
                                  key="lesson_link_hide", format_func=hide_label,
                                  help="Controls and explanations the link hides (hide=…), by page.")
            present = st.checkbox("Large type for a projector", key="lesson_link_present", help="Adds present=true.")
            view = {"hide": ",".join(hide)} if hide else {}
            view |= {"present": "true"} if present else {}
        st.code(lesson_url(base, query, view), language=None, wrap_lines=True)
        if base:
            st.caption("Add `&embed=true` to show the page without Streamlit's menu, for a slide or a web page.")
