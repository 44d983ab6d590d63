"""The layer types a spec may use: one record per type in one dict, and one layer of a spec (`LayerSpec`).

Layer types are torch.nn's class names in lower case, with torch's keyword arguments; the input
channels and features are inferred. Every fact about a type (torch class, arguments, short name,
how `forward()` writes it, the rule its output size follows) lives in its record in `LAYER_TYPES`,
and every fact about an argument (kind, smallest value, help) in `ARGS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cnn_core.jsonconfig import shown

REQUIRED = object()  # marks an argument without a default


@dataclass(frozen=True)
class Arg:
    """One keyword argument that some layer types take."""

    kind: type  # int, float or bool
    minimum: float | None = None  # smallest allowed value (None: any number)
    below: float | None = None  # the value must stay under this (None: no upper bound)
    help: str = ""  # what it does, for the layer table's column
    always_written: bool = False  # in the JSON and the code even at its default (torch needs it, or it's worth seeing)


ARGS: dict[str, Arg] = {  # in the order a learner meets them (the layer table's columns)
    "out_channels": Arg(int, 1, help="conv2d: how many filters, so how many output channels."),
    "kernel_size": Arg(int, 1, help="conv2d and pooling: the window's side in pixels.", always_written=True),
    "stride": Arg(int, 1, help="conv2d and pooling: the step between windows (pooling: blank means the kernel size)."),
    "padding": Arg(int, 0, help="conv2d and pooling: zero pixels added on every side."),
    "dilation": Arg(int, 1, help="conv2d: spacing between the kernel's taps (1 = touching)."),
    "output_size": Arg(int, 1, help="adaptiveavgpool2d: the output's height and width, whatever the input.",
                       always_written=True),
    "out_features": Arg(int, 1, help="linear: how many numbers come out. The last one must equal the number of classes."),
    "p": Arg(float, 0, 1, help="dropout and dropout2d: the share of values set to zero.", always_written=True),
    "negative_slope": Arg(float, help="leakyrelu: the slope below zero."),
    "bias": Arg(bool, help="conv2d and linear: add a learned offset."),
}

_WINDOW = "out = ⌊(in + 2·padding − kernel) / stride⌋ + 1; channels unchanged"


@dataclass(frozen=True)
class LayerType:
    """Everything the package knows about one layer type."""

    torch_class: str  # the torch.nn class, e.g. "Conv2d"
    short_name: str  # prefix of the layer's name in tables and code: "conv" → conv1, conv2…
    args: dict[str, Any] = field(default_factory=dict)  # keyword arguments and defaults, in torch's order
    inferred: str = ""  # the torch argument filled in from the input ("in_channels"), if any
    needs_image: bool = False  # takes a (C, H, W) input only
    activation: bool = False  # an element-wise non-linearity
    functional: str = ""  # how forward() writes it when it has no state, e.g. "F.relu(x)"; "" = a module attribute
    rule: str = ""  # how its output size follows, in words; "" when it keeps the shape


LAYER_TYPES: dict[str, LayerType] = {
    "conv2d": LayerType(
        "Conv2d", "conv", {"out_channels": REQUIRED, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 1,
                           "bias": True}, inferred="in_channels", needs_image=True,
        rule="out = ⌊(in + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1; channels = out_channels"),
    "batchnorm2d": LayerType("BatchNorm2d", "bn", inferred="num_features", needs_image=True),
    "relu": LayerType("ReLU", "relu", activation=True, functional="F.relu(x)"),
    "leakyrelu": LayerType("LeakyReLU", "leakyrelu", {"negative_slope": 0.01}, activation=True,
                           functional="F.leaky_relu(x, {negative_slope})"),
    "gelu": LayerType("GELU", "gelu", activation=True, functional="F.gelu(x)"),
    "tanh": LayerType("Tanh", "tanh", activation=True, functional="torch.tanh(x)"),
    "sigmoid": LayerType("Sigmoid", "sigmoid", activation=True, functional="torch.sigmoid(x)"),
    "maxpool2d": LayerType("MaxPool2d", "maxpool", {"kernel_size": 2, "stride": None, "padding": 0},
                           needs_image=True, rule=_WINDOW),
    "avgpool2d": LayerType("AvgPool2d", "avgpool", {"kernel_size": 2, "stride": None, "padding": 0},
                           needs_image=True, rule=_WINDOW),
    "adaptiveavgpool2d": LayerType("AdaptiveAvgPool2d", "adaptpool", {"output_size": 1}, needs_image=True,
                                   rule="out = output_size, whatever the input size; channels unchanged"),
    "dropout2d": LayerType("Dropout2d", "drop2d", {"p": 0.5}, needs_image=True),
    "dropout": LayerType("Dropout", "drop", {"p": 0.5}),
    "flatten": LayerType("Flatten", "flatten", functional="torch.flatten(x, 1)",
                         rule="features = channels × height × width"),
    "linear": LayerType("Linear", "fc", {"out_features": REQUIRED, "bias": True}, inferred="in_features",
                        rule="features = out_features"),
}  # fmt: skip
ACTIVATIONS = tuple(name for name, t in LAYER_TYPES.items() if t.activation)


def layer_type(name: str) -> LayerType:
    """The record of a layer type; ValueError naming the known types otherwise."""
    try:
        return LAYER_TYPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown layer type {shown(name)}; expected one of {', '.join(LAYER_TYPES)}") from None


def _check_value(name: str, value: Any) -> Any:
    """The value as the argument's kind, or ValueError saying what it must be."""
    arg = ARGS[name]
    if arg.kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {shown(value)}")
        return value
    if arg.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {shown(value)}")
        if arg.below is not None and not arg.minimum <= value < arg.below:
            raise ValueError(f"dropout {name} must be a probability from {arg.minimum} up to (not including) "
                             f"{arg.below}, got {shown(value)}")  # fmt: skip
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {shown(value)}")
    if value < arg.minimum:
        raise ValueError(f"{name} must be at least {arg.minimum}, got {value}")
    return value


MISSING_HEAD = "missing head"  # SpecError's layer_type when the network ends before its class scores


class SpecError(ValueError):
    """An invalid spec: `index` is the failing layer (-1: the spec as a whole; len(layers): the missing head),
    `reason` plain English."""

    def __init__(self, index: int, reason: str, layer_type: str = ""):
        self.index, self.reason, self.layer_type = index, reason, layer_type
        where = (f"after layer {index - 1} ({MISSING_HEAD})" if layer_type == MISSING_HEAD else
                 f"layer {index} ({layer_type})" if index >= 0 else "the network")  # fmt: skip
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its type and all its arguments (defaults filled in), as sorted (name, value) pairs."""

    type: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, type: str, **kwargs: Any) -> LayerSpec:
        """Validate a layer's arguments and fill in torch's defaults; fails loudly on unknown names."""
        allowed = layer_type(type).args
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            expected = ", ".join(allowed) or "no arguments"
            raise ValueError(f"{type} takes no argument {', '.join(unknown)[:80]}; it takes {expected}")
        args = {}
        for name, default in allowed.items():
            value = kwargs.get(name, default)
            if value is REQUIRED:
                raise ValueError(f"{type} needs {name}")
            if name == "stride" and value is None:  # pooling: torch's default stride is the kernel size
                value = kwargs.get("kernel_size", allowed["kernel_size"])
            args[name] = _check_value(name, value)
        return cls(type, tuple(sorted(args.items())))

    @property
    def kind(self) -> LayerType:
        return layer_type(self.type)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    def written_args(self) -> dict[str, Any]:
        """The arguments worth writing, in torch's order: those off their default, and those always written."""
        args, written = self.kwargs, {}
        for name, default in self.kind.args.items():
            if name == "stride" and default is None:  # pooling: the default stride is the kernel size
                default = args["kernel_size"]
            if ARGS[name].always_written or args[name] != default:
                written[name] = args[name]
        return written

    def to_dict(self) -> dict[str, Any]:
        """The public JSON form: the type and the arguments worth writing."""
        return {"type": self.type, **self.written_args()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerSpec:
        if not isinstance(data, dict) or "type" not in data:
            raise ValueError('each layer must be an object with a "type", e.g. {"type": "relu"}')
        kwargs = {k: v for k, v in data.items() if k != "type"}
        if not isinstance(data["type"], str):
            raise ValueError(f'a layer\'s "type" must be text such as "relu", got {shown(data["type"])}')
        if any(not isinstance(k, str) for k in kwargs):
            raise ValueError("a layer's argument names must be text")
        return cls.make(data["type"].lower(), **kwargs)

    def describe(self) -> str:
        """E.g. 'conv2d(out_channels=32, kernel_size=3, padding=1)'."""
        return f"{self.type}({', '.join(f'{k}={v}' for k, v in self.written_args().items())})"


def layer(type: str, **kwargs: Any) -> LayerSpec:
    """Shorthand for `LayerSpec.make`."""
    return LayerSpec.make(type, **kwargs)


def layer_names(layers: tuple[LayerSpec, ...] | list[LayerSpec]) -> list[str]:
    """Short unique names: the type's short name and how many of that type came so far (conv1, conv2, …).

    They name the modules of `build_model` and the attributes of the generated code alike, so a trained
    state_dict loads into either."""
    counts: dict[str, int] = {}
    names = []
    for lay in layers:
        short = lay.kind.short_name
        counts[short] = counts.get(short, 0) + 1
        names.append(f"{short}{counts[short]}")
    return names
