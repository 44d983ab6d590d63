"""A lesson in the URL: the dataset, the network and the training settings as query parameters, and a
presenting mode for a projector.

A teacher sets up the lesson, copies the link (`?dataset=shapes&rotation=45&arch=lenet5&lr=0.01…`, only what
differs from the defaults), and every student who opens it starts from exactly those settings. On load each
parameter is checked against the widget it feeds: an unknown name or a bogus value is dropped, an
out-of-range number is dropped, an in-range number between two steps snaps to the nearest step, each with a
notice; never a traceback. `hide=lr,epochs` or `show=lr,train` hides controls (as TensorFlow Playground's
`*_hide` parameters do) and `present=true` sets large type for a projector; both combine with `?embed=true`.

Streamlit 1.67 widgets can bind to query parameters themselves (`bind="query-params"`), but a bound widget
drops a bad value silently and removes its parameter when its page is left, so the lesson would not survive
a visit to another page. Instead the router writes the whole lesson after every run (`sync`) from what the
session holds, and reads a link once, when a session opens it (`open_link`).

The pure part (`PARAMS`, `parse_link`, `lesson_query`, `parse_view`, `view_css`) never touches Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from cnn_core.data.config import COLOR_MODES, DIGIT_CLASSES, DIGITS_PER_CLASS, SHAPE_CLASSES, SIZE_RANGE, DataConfig
from cnn_core.nets.blocks import DOWNSAMPLING, MAX_BLOCKS, BlockDesign
from cnn_core.nets.layers import ACTIVATIONS
from cnn_core.nets.presets import NETWORKS, default_for
from cnn_core.training.config import OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig, suggested_config
from ui.train_widgets import DECAYS, LRS
from ui.train_widgets import SAVED as TRAIN_VALUES

LINK_DATASETS = ("shapes", "digits")  # datasets a link can name (an upload lives on one server only)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
KERNEL_SIZES = (1, 3, 5, 7)
VIEW_PARAMS = ("hide", "show", "present")  # presenting mode; kept as they are while the lesson changes
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


# ---------------------------------------------------------------- what a value may be


@dataclass(frozen=True)
class Choice:
    options: tuple  # the widget's options; numbers match within a relative 1e-9

    def parse(self, text: str) -> tuple[Any, str]:
        for option in self.options:
            if isinstance(option, str) and text == option:
                return option, ""
            if not isinstance(option, (str, bool)) and _number(text) is not None and math.isclose(
                    _number(text), option, rel_tol=1e-9, abs_tol=1e-12):  # fmt: skip
                return option, ""
        raise ValueError(f"expected one of {', '.join(format_value(o) for o in self.options)}")


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    step: float = 1  # values snap to low + k·step
    integer: bool = True

    def parse(self, text: str) -> tuple[Any, str]:
        value = _number(text)
        if value is None or not math.isfinite(value):
            raise ValueError("expected a number")
        if not self.low <= value <= self.high:
            raise ValueError(f"out of range: from {format_value(self.low)} to {format_value(self.high)}")
        snapped = self.low + round((value - self.low) / self.step) * self.step
        snapped = int(round(snapped)) if self.integer else round(min(snapped, self.high), 10)
        note = "" if math.isclose(snapped, value, abs_tol=1e-12) else f"rounded to {format_value(snapped)}"
        return snapped, note


@dataclass(frozen=True)
class Flag:
    def parse(self, text: str) -> tuple[Any, str]:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE, ""
        raise ValueError("expected true or false")


@dataclass(frozen=True)
class Subset:
    options: tuple[str, ...]
    least: int = 2

    def parse(self, text: str) -> tuple[Any, str]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        unknown = [t for t in items if t not in self.options]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; expected some of {', '.join(self.options)}")
        if len(set(items)) != len(items) or len(items) < self.least:
            raise ValueError(f"expected at least {self.least} different names, separated by commas")
        return items, ""


@dataclass(frozen=True)
class Counts:
    low: int
    high: int
    most: int  # how many numbers at most

    def parse(self, text: str) -> tuple[Any, str]:
        numbers = [_number(t) for t in text.split(",")]
        if not 1 <= len(numbers) <= self.most or any(n is None or n != int(n) for n in numbers):
            raise ValueError(f"expected 1 to {self.most} whole numbers separated by commas")
        if any(not self.low <= n <= self.high for n in numbers):
            raise ValueError(f"each must be from {self.low} to {self.high}")
        return tuple(int(n) for n in numbers), ""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def format_value(value: Any) -> str:
    """A value as the URL spells it: true/false, 0.001, 1e-05, circle,square."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= 1e6 else str(int(value))
    return str(value)


# ---------------------------------------------------------------- the lesson's parameters


@dataclass(frozen=True)
class Param:
    name: str  # in the URL and in hide=/show=
    group: str  # "data", "arch" or "train"
    field: str  # the DataConfig / BlockDesign / TrainConfig field it sets ("preset" for the network's preset)
    key: str  # the widget's key on its page
    domain: Callable[[str], Any]  # dataset name → what the widget accepts (classes and sizes depend on it)


def _fixed(domain) -> Callable[[str], Any]:
    return lambda dataset: domain


def _data(name: str, domain: Callable[[str], Any], field_name: str | None = None) -> Param:
    field_name = field_name or name
    return Param(name, "data", field_name, f"ds_{field_name}", domain)


def _arch(name: str, field_name: str, domain) -> Param:
    return Param(name, "arch", field_name, f"arch_{field_name}", _fixed(domain))


def _train(name: str, field_name: str, domain) -> Param:
    return Param(name, "train", field_name, f"tr_{field_name}", _fixed(domain))


FRACTION = Number(0.0, 0.45, 0.05, integer=False)
PARAMS: tuple[Param, ...] = (
    _data("dataset", _fixed(Choice(LINK_DATASETS))),
    _data("classes", lambda d: Subset(SHAPE_CLASSES if d == "shapes" else DIGIT_CLASSES)),
    _data("n_per_class", lambda d: Number(1, 5000 if d == "shapes" else DIGITS_PER_CLASS)),
    _data("size", lambda d: Number(*SIZE_RANGE[d])),
    _data("noise", _fixed(Number(0.0, 0.5, 0.01, integer=False))),
    _data("position_jitter", _fixed(Number(0.0, 0.5, 0.05, integer=False))),
    _data("scale_jitter", _fixed(Number(0.0, 0.5, 0.05, integer=False))),
    _data("rotation", _fixed(Number(0, 180, 5))),
    _data("color_mode", _fixed(Choice(COLOR_MODES))),
    _data("clutter", _fixed(Number(0, 10))),
    _data("val_fraction", _fixed(FRACTION)),
    _data("test_fraction", _fixed(FRACTION)),
    _data("seed", _fixed(Number(0, 2**31 - 1))),
    Param("arch", "arch", "preset", "arch_preset", _fixed(Choice(tuple(NETWORKS)))),
    _arch("blocks", "num_blocks", Number(1, MAX_BLOCKS)),
    Param("channels", "arch", "channels", "arch_channels", _fixed(Counts(1, 1024, MAX_BLOCKS))),
    _arch("kernel", "kernel_size", Choice(KERNEL_SIZES)),
    _arch("downsample", "downsample", Choice(DOWNSAMPLING)),
    _arch("downsample_last", "downsample_last", Flag()),
    _arch("batch_norm", "batch_norm", Flag()),
    _arch("activation", "activation", Choice(ACTIVATIONS)),
    _arch("dropout", "dropout", Number(0.0, 0.9, 0.05, integer=False)),
    _arch("head_pool", "head_pool", Number(0, 16)),
    _arch("hidden", "hidden", Number(0, 4096)),
    _arch("head_dropout", "head_dropout", Number(0.0, 0.9, 0.05, integer=False)),
    _train("optimizer", "optimizer", Choice(OPTIMIZERS)),
    _train("lr", "lr", Choice(LRS)),
    _train("momentum", "momentum", Number(0.0, 0.99, 0.01, integer=False)),
    _train("weight_decay", "weight_decay", Choice(DECAYS)),
    _train("schedule", "schedule", Choice(SCHEDULES)),
    _train("step_size", "step_size", Number(1, 100)),
    _train("gamma", "gamma", Number(0.05, 1.0, 0.05, integer=False)),
    _train("batch_size", "batch_size", Choice(BATCH_SIZES)),
    _train("epochs", "epochs", Number(1, 100)),
    _train("patience", "patience", Number(0, 20)),
    _train("label_smoothing", "label_smoothing", Number(0.0, 0.3, 0.05, integer=False)),
    _train("aug_rotation", "rotation", Number(0, 45, 5)),
    _train("hflip", "hflip", Flag()),
    _train("translate", "translate", Number(0.0, 0.3, 0.05, integer=False)),
    _train("crop_scale", "crop_scale", Number(0.3, 1.0, 0.05, integer=False)),
    _train("color_jitter", "color_jitter", Number(0.0, 0.5, 0.05, integer=False)),
    _train("precision", "precision", Choice(PRECISIONS)),
    _train("train_seed", "seed", Number(0, 2**31 - 1)),
)
BY_NAME = {p.name: p for p in PARAMS}
# Not settings, but things a teacher may hide: the Train button, each page's opening explanation, the sidebar.
INTRO = "intro"  # the key of each page's opening explanation (see `intro`)
EXTRA_HIDEABLE = {"train": "tr_train", "intro": INTRO, "copy_link": "lesson_link"}
LAYOUT_HIDEABLE = {"sidebar": ('[data-testid="stSidebar"]', '[data-testid="stSidebarCollapsedControl"]'),
                   "nav": ('[data-testid="stSidebarNav"]', '[data-testid="stNavSectionHeader"]')}  # fmt: skip


@dataclass
class Link:
    """What a link asks for, checked: values by group, the presenting view, and a notice per dropped or changed value."""

    data: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    view: dict[str, str] = field(default_factory=dict)  # hide / show / present as given
    notices: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.data or self.arch or self.train)

    def data_config(self) -> DataConfig:
        return DataConfig(**self.data)

    def design(self) -> BlockDesign | None:
        """The block design the link names, or None when it names only a preset (or no network)."""
        fields = {k: v for k, v in self.arch.items() if k != "preset"}
        return BlockDesign(**fields) if fields else None


def _one(value: Any) -> str:
    """st.query_params gives the last of repeated values; plain dicts of lists are read the same way."""
    return str(value[-1] if isinstance(value, (list, tuple)) and value else value)


def parse_link(query: Mapping[str, Any]) -> Link:
    """Check every parameter of a link against its widget; drop what doesn't fit, with a notice each."""
    link = Link()
    link.view = {k: _one(query[k]) for k in VIEW_PARAMS if k in query}
    unknown = sorted(k for k in query if k not in BY_NAME and k not in VIEW_PARAMS)
    if unknown:
        link.notices.append(f"The link's {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a setting of "
                            "this lab: ignored.")  # fmt: skip
    dataset = "shapes"
    for param in PARAMS:  # dataset first: other data parameters depend on it
        if param.name not in query:
            continue
        text = _one(query[param.name]).strip()
        try:
            value, note = param.domain(dataset).parse(text)
        except ValueError as exc:
            link.notices.append(f"The link's {param.name}={text!r} was ignored: {exc}.")
            continue
        if note:
            link.notices.append(f"The link's {param.name}={text!r} was {note}.")
        if param.name == "dataset":
            dataset = value
        getattr(link, param.group)[param.field] = value
    _check_together(link)
    return link


def _check_together(link: Link) -> None:
    """Values that pass one by one may still clash (too many held out, channels that don't match the blocks)."""
    if "rotation" in link.data:
        link.data["rotation"] = float(link.data["rotation"])
    for group, build in (("data", lambda: link.data_config()), ("arch", lambda: link.design()),
                         ("train", lambda: TrainConfig(**{"rotation": 0.0, **link.train}))):  # fmt: skip
        if group == "arch" and "num_blocks" in link.arch and "channels" not in link.arch:
            link.arch["channels"] = _default_channels(link.arch["num_blocks"])
        if group == "arch" and "channels" in link.arch and "num_blocks" not in link.arch:
            link.arch["num_blocks"] = len(link.arch["channels"])
        try:
            build()
        except ValueError as exc:
            names = sorted(p.name for p in PARAMS if p.group == group and p.field in getattr(link, group))
            link.notices.append(f"The link's {', '.join(names)} don't go together ({exc}): ignored.")
            getattr(link, group).clear()
    if "rotation" in link.train:
        link.train["rotation"] = float(link.train["rotation"])


def _default_channels(blocks: int) -> tuple[int, ...]:
    """The Architecture page's default: 32, then doubling, at most 512."""
    return tuple(min(32 * 2**i, 512) for i in range(blocks))


def lesson_query(data: DataConfig, network: str | BlockDesign | None = None,
                 train: Mapping[str, Any] | None = None) -> dict[str, str]:  # fmt: skip
    """The query parameters of a lesson: only what differs from the defaults (the dataset's, SimpleCNN's, and the
    Training page's suggestion for that dataset), so a link stays short and readable."""
    query: dict[str, str] = {"dataset": data.dataset} if data.dataset != "shapes" else {}
    defaults = DataConfig(dataset=data.dataset)
    for param in PARAMS:
        if param.group == "data" and param.name != "dataset":
            if getattr(data, param.field) != getattr(defaults, param.field):
                query[param.name] = format_value(getattr(data, param.field))
    if isinstance(network, str) and network != default_for(data):
        query["arch"] = network
    elif isinstance(network, BlockDesign):
        base = BlockDesign()
        for param in PARAMS:
            if param.group == "arch" and param.field != "preset":
                value = getattr(network, param.field)
                if param.field in ("num_blocks", "channels") or value != getattr(base, param.field):
                    query[param.name] = format_value(value)
    suggested = train_defaults(data)
    for param in PARAMS:
        if param.group == "train" and train and train.get(param.field) is not None:
            value = train[param.field]
            if not _same(value, suggested[param.field]):
                query[param.name] = format_value(value)
    return query


def train_defaults(data: DataConfig) -> dict[str, Any]:
    """The Training page's starting values for a dataset (the step size left to follow the epochs)."""
    return {**suggested_config(data).to_dict(), "step_size": None}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def lesson_url(base: str, query: Mapping[str, str], view: Mapping[str, str] | None = None) -> str:
    """The link itself: the page's address and the lesson's (and presenting mode's) parameters."""
    params = {**query, **(view or {})}
    return base + ("?" + urlencode(params, safe=",") if params else "")


# ---------------------------------------------------------------- presenting mode


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
        if bad:
            notices.append(f"The link's {param}= names {', '.join(bad)}, which this lab doesn't have: ignored.")
        return [t for t in items if t not in bad]

    for name in names("hide"):
        (layout if name in LAYOUT_HIDEABLE else keys).append(name if name in LAYOUT_HIDEABLE else hideable[name])
    if "show" in view:
        shown = set(names("show"))
        keys += [p.key for p in PARAMS if p.name not in shown]
        if any(p.name == "channels" for p in PARAMS) and "channels" not in shown:
            keys += [f"arch_ch_{i}" for i in range(MAX_BLOCKS)]  # the channel inputs are one widget per block
    if "channels" in view.get("hide", "").split(","):
        keys += [f"arch_ch_{i}" for i in range(MAX_BLOCKS)]
    present = view.get("present", "false").lower()
    if present not in TRUE + FALSE:
        notices.append(f"The link's present={present!r} was ignored: expected true or false.")
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
                "[data-testid='stMainBlockContainer'] { max-width: 100%; padding-top: 1.5rem; }\n")  # fmt: skip
    return css


# ---------------------------------------------------------------- the app's side (called by the router)


def intro(text: str) -> None:
    """A page's opening explanation, in a container that `hide=intro` can hide."""
    import streamlit as st

    st.container(key=INTRO).markdown(text)


LINK_STATE = "lesson_query"  # session key: the lesson's query as last read from or written to the URL
VIEW_STATE = "lesson_view"  # session key: the presenting-mode parameters the session was opened with
NETWORK_STATE = "arch_lesson_network"  # session key: the network a link named (a name or a BlockDesign); the
# arch_ prefix lets the Architecture page's "Reset to defaults" forget it with the rest
MODEL_SPEC = "model_spec"  # session key: the network the Training page trains (set by the Architecture page)
TRAIN_DEFAULTS_FOR = "tr_defaults_for"  # session key: the dataset the Training page's saved values are for


def open_link() -> None:
    """Before the page runs: apply a link's lesson the first time a session sees it, say what was dropped, and
    style the presenting view."""
    import streamlit as st

    ss = st.session_state
    query = st.query_params.to_dict()
    if VIEW_STATE not in ss:
        ss[VIEW_STATE] = {k: query[k] for k in VIEW_PARAMS if k in query}
    lesson = {k: v for k, v in query.items() if k not in VIEW_PARAMS}
    notices: list[str] = []
    if lesson and lesson != ss.get(LINK_STATE):
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


def apply_link(link: Link) -> None:
    """Put a checked link's lesson into the session, where the pages seed their widgets from."""
    import streamlit as st

    from ui.state import DATA_CONFIG, DATASET

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
    network = link.design() or link.arch.get("preset")
    if network is not None:
        ss[NETWORK_STATE] = network
        ss[MODEL_SPEC] = network_spec(network, data)
        _forget("arch", "arch_saved", "arch_current", *(f"arch_ch_{i}" for i in range(MAX_BLOCKS)))


def network_spec(network: str | BlockDesign, data: DataConfig):
    """The ModelSpec of a preset or a block design for a dataset's images and classes."""
    from cnn_core.nets.presets import network as named_network

    shape = (data.channels, data.size, data.size)
    if isinstance(network, str):
        return named_network(network, shape, len(data.classes))
    return network.to_spec(shape, len(data.classes))


def _forget(group: str, *extra: str) -> None:
    """Drop the group's widget values (and `extra` keys), so that the pages seed them afresh from the lesson."""
    import streamlit as st

    for key in [p.key for p in PARAMS if p.group == group] + list(extra):
        st.session_state.pop(key, None)


def current_network() -> str | BlockDesign | None:
    """The session's network as a link can say it: the Architecture page's preset when its blocks weren't changed,
    else its block design; the link's network before that page is visited; None before any choice."""
    import streamlit as st

    ss = st.session_state
    saved = ss.get("arch_saved")
    if not saved:
        return ss.get(NETWORK_STATE)
    name = saved.get("arch_preset", "simple_cnn")
    if saved.get("arch_mode", "blocks") != "blocks":
        return name  # layer-by-layer edits don't fit in a link: the link names the preset they started from
    try:
        fields = {f: saved[f"arch_{f}"] for f in BlockDesign.__dataclass_fields__ if f"arch_{f}" in saved}
        fields["channels"] = tuple(int(saved[f"arch_ch_{i}"]) for i in range(int(saved["arch_num_blocks"])))
        design = BlockDesign(**fields)
    except (KeyError, TypeError, ValueError):
        return name
    from cnn_core.nets.blocks import design_of

    data = ss.get("data_config") or DataConfig()
    try:
        same = design_of(network_spec(name, data)) == design
    except ValueError:
        same = False
    return name if same else design


def current_query() -> dict[str, str]:
    """The session's lesson as query parameters."""
    import streamlit as st

    from ui.state import DATA_CONFIG

    ss = st.session_state
    data = ss.get(DATA_CONFIG) or DataConfig()
    train = ss.get(TRAIN_VALUES) if ss.get(TRAIN_DEFAULTS_FOR) == data.key() else None
    if data.dataset not in LINK_DATASETS:
        return {}
    return lesson_query(data, current_network(), train)


def sync(slot, early: bool = False) -> None:
    """The URL shows the session's lesson, and `slot` (a sidebar placeholder) offers the link.

    The router calls it twice: early, before the page (what the session held when the last run ended), because a
    page that calls st.stop() ends the run and nothing drawn after it reaches the browser; then after the page,
    with what the page just chose, replacing the early control and adding the presenting-link options."""
    import streamlit as st

    ss = st.session_state
    query = current_query()
    view = ss.get(VIEW_STATE, {})
    if not early:
        if st.query_params.to_dict() != {**query, **view}:
            st.query_params.from_dict({**query, **view})
        ss[LINK_STATE] = query
    with slot.container(key="lesson_link_early" if early else "lesson_link"):
        link_control(query, options=not early)


def link_control(query: Mapping[str, str], options: bool = True) -> None:
    """A "Copy link to this lesson" popover: the link, and (with `options`) choices for a presenting link."""
    import streamlit as st

    base = st.context.url or ""
    with st.popover("Copy link to this lesson", icon=":material/link:", width="stretch",
                    help="A link that opens this page with your dataset, network and training settings."):  # fmt: skip
        st.caption("Students who open this link start from your dataset, network and training settings, on this page.")
        view = {}
        if options:
            hide = st.multiselect("Hide from students", [*(p.name for p in PARAMS), *EXTRA_HIDEABLE, *LAYOUT_HIDEABLE],
                                  key="lesson_link_hide", help="Controls and explanations the link hides (hide=…).")
            present = st.checkbox("Large type for a projector", key="lesson_link_present", help="Adds present=true.")
            view = {"hide": ",".join(hide)} if hide else {}
            view |= {"present": "true"} if present else {}
        st.code(lesson_url(base, query, view), language=None, wrap_lines=True)
        if base:
            st.caption("Add `&embed=true` to show the page without Streamlit's menu, for a slide or a web page.")
