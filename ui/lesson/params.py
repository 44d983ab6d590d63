"""The lesson's parameters: one row per setting a link can carry (its name in the URL, the widget it feeds, the
values it may take); checking a link against them (`parse_link`), and writing a lesson as one (`lesson_query`,
`lesson_url`)."""

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
from ui.lesson.values import Choice, Counts, Flag, Number, Subset, format_value, quote, quote_list
from ui.train_widgets import DECAYS, LRS

LINK_DATASETS = ("shapes", "digits")  # datasets a link can name (an upload lives on one server only)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
KERNEL_SIZES = (1, 3, 5, 7)
VIEW_PARAMS = ("hide", "show", "present")  # presenting mode; kept as they are while the lesson changes


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
    _train("lr", "lr", Choice(LRS, nearest=True)),
    _train("momentum", "momentum", Number(0.0, 0.99, 0.01, integer=False)),
    _train("weight_decay", "weight_decay", Choice(DECAYS, nearest=True)),
    _train("schedule", "schedule", Choice(SCHEDULES)),
    _train("step_size", "step_size", Number(1, 100)),
    _train("gamma", "gamma", Number(0.05, 1.0, 0.05, integer=False)),
    _train("batch_size", "batch_size", Choice(BATCH_SIZES, nearest=True)),
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
    Param("budget", "board", "max_params", "board_budget", _fixed(Number(0, 100_000_000))),  # the board's challenge
)
BY_NAME = {p.name: p for p in PARAMS}
# What each widget says (its label), for the hide picker; tests/app/test_lesson_app.py checks them against the pages
LABELS = {
    "dataset": "Dataset", "classes": "Classes", "n_per_class": "Images per class", "size": "Image size (pixels)",
    "noise": "Pixel noise (σ)", "position_jitter": "Position jitter", "scale_jitter": "Scale jitter",
    "rotation": "Rotation (degrees)", "color_mode": "Colour", "clutter": "Clutter",
    "val_fraction": "Validation share", "test_fraction": "Test share", "seed": "Seed",
    "arch": "Start from a network", "blocks": "Conv blocks", "kernel": "Kernel size", "downsample": "Downsampling",
    "downsample_last": "Last block halves too", "batch_norm": "Batch norm", "activation": "Activation",
    "dropout": "Block dropout (Dropout2d)", "head_pool": "Pool to (pixels a side)", "hidden": "Hidden width",
    "head_dropout": "Head dropout", "channels": "Block channels", "optimizer": "Optimizer", "lr": "Learning rate",
    "momentum": "Momentum", "weight_decay": "Weight decay", "schedule": "Schedule",
    "step_size": "Step every (epochs)", "gamma": "Cut factor", "batch_size": "Batch size", "epochs": "Epochs",
    "patience": "Early-stopping patience", "label_smoothing": "Label smoothing",
    "aug_rotation": "Rotation (degrees)", "hflip": "Horizontal flip", "translate": "Translation",
    "crop_scale": "Crop scale", "color_jitter": "Colour jitter", "precision": "Precision",
    "train_seed": "Training seed", "budget": "Parameter budget (0 = any size)",
}  # fmt: skip
PAGES = {"data": "Dataset", "arch": "Architecture", "train": "Training", "board": "Class board"}


@dataclass
class Link:
    """What a link asks for, checked: values by group, the presenting view, and a notice per dropped or changed value."""

    data: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    board: dict[str, Any] = field(default_factory=dict)  # the class board's challenge (its parameter budget)
    view: dict[str, str] = field(default_factory=dict)  # hide / show / present as given
    notices: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.data or self.arch or self.train or self.board)

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
    unknown = sorted(str(k) for k in query if k not in BY_NAME and k not in VIEW_PARAMS)
    if unknown:
        link.notices.append(f"The link's {quote_list(unknown)} {'is' if len(unknown) == 1 else 'are'} not a setting of "
                            "this lab: ignored.")  # fmt: skip
    dataset = "shapes"
    for param in PARAMS:  # dataset first: other data parameters depend on it
        if param.name not in query:
            continue
        text = _one(query[param.name]).strip()
        try:
            value, note = param.domain(dataset).parse(text)
        except ValueError as exc:
            link.notices.append(f"The link's {param.name}={quote(text)} was ignored: {exc}.")
            continue
        if note:
            link.notices.append(f"The link's {param.name}={quote(text)} was {note}.")
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
                 train: Mapping[str, Any] | None = None, board: Mapping[str, Any] | None = None) -> dict[str, str]:  # fmt: skip
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
    if board and board.get("max_params"):
        query["budget"] = format_value(int(board["max_params"]))
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

