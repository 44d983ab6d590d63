"""A network as data: a frozen, JSON-round-tripping spec, its shape walk, presets and `build_model`.

Layer types are torch.nn's class names in lower case, with torch's keyword arguments; the input
channels and features are inferred. Nothing here imports torch except `build_model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnn_core.jsonconfig import JsonConfig
from cnn_core.ops import output_length

REQUIRED = object()  # marks an argument without a default

# type → its keyword arguments and their defaults, as torch.nn names them.
LAYER_ARGS: dict[str, dict[str, Any]] = {
    "conv2d": {"out_channels": REQUIRED, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 1, "bias": True},
    "batchnorm2d": {},
    "relu": {},
    "leakyrelu": {"negative_slope": 0.01},
    "gelu": {},
    "tanh": {},
    "sigmoid": {},
    "maxpool2d": {"kernel_size": 2, "stride": None, "padding": 0},
    "avgpool2d": {"kernel_size": 2, "stride": None, "padding": 0},
    "adaptiveavgpool2d": {"output_size": 1},
    "dropout2d": {"p": 0.5},
    "dropout": {"p": 0.5},
    "flatten": {},
    "linear": {"out_features": REQUIRED, "bias": True},
}
TORCH_CLASS = {
    "conv2d": "Conv2d", "batchnorm2d": "BatchNorm2d", "relu": "ReLU", "leakyrelu": "LeakyReLU",
    "gelu": "GELU", "tanh": "Tanh", "sigmoid": "Sigmoid", "maxpool2d": "MaxPool2d", "avgpool2d": "AvgPool2d",
    "adaptiveavgpool2d": "AdaptiveAvgPool2d", "dropout2d": "Dropout2d", "dropout": "Dropout",
    "flatten": "Flatten", "linear": "Linear",
}  # fmt: skip
INFERRED_ARG = {"conv2d": "in_channels", "batchnorm2d": "num_features", "linear": "in_features"}
_TORCH_REQUIRED = {"kernel_size", "output_size"}  # torch has no default for these: always write them
IMAGE_LAYERS = {"conv2d", "batchnorm2d", "maxpool2d", "avgpool2d", "adaptiveavgpool2d", "dropout2d"}
ACTIVATIONS = ("relu", "leakyrelu", "gelu", "tanh", "sigmoid")
# Smallest allowed value of each integer argument.
_INT_MIN = {"out_channels": 1, "kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1,
            "output_size": 1, "out_features": 1}  # fmt: skip


class SpecError(ValueError):
    """An invalid spec: `index` is the failing layer (or -1 for the spec as a whole), `reason` plain English."""

    def __init__(self, index: int, reason: str, layer_type: str = ""):
        self.index, self.reason, self.layer_type = index, reason, layer_type
        where = f"layer {index} ({layer_type})" if index >= 0 else "the network"
        super().__init__(f"{where}: {reason}")


def _check_value(name: str, value: Any) -> Any:
    if name == "bias":
        if not isinstance(value, bool):
            raise ValueError(f"bias must be true or false, got {value!r}")
    elif name == "p":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"dropout p must be a probability from 0 up to (not including) 1, got {value!r}")
        value = float(value)
    elif name == "negative_slope":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"negative_slope must be a number, got {value!r}")
        value = float(value)
    elif value is not None or name != "stride":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        if value < _INT_MIN[name]:
            raise ValueError(f"{name} must be at least {_INT_MIN[name]}, got {value}")
    return value


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its type and all its arguments (defaults filled in), as sorted (name, value) pairs."""

    type: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, type: str, **kwargs: Any) -> LayerSpec:
        """Validate a layer's arguments and fill in torch's defaults; fails loudly on unknown names."""
        if type not in LAYER_ARGS:
            raise ValueError(f"unknown layer type {type!r}; expected one of {', '.join(LAYER_ARGS)}")
        allowed = LAYER_ARGS[type]
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            expected = ", ".join(allowed) or "no arguments"
            raise ValueError(f"{type} takes no argument {', '.join(unknown)}; it takes {expected}")
        args = {}
        for name, default in allowed.items():
            value = kwargs.get(name, default)
            if value is REQUIRED:
                raise ValueError(f"{type} needs {name}")
            args[name] = _check_value(name, value)
        if "stride" in args and args["stride"] is None:  # pooling: torch's default stride is the kernel size
            args["stride"] = args["kernel_size"]
        return cls(type, tuple(sorted(args.items())))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    def to_dict(self) -> dict[str, Any]:
        """The public JSON form: the type and the arguments that differ from torch's defaults."""
        args = self.kwargs
        out: dict[str, Any] = {"type": self.type}
        for name, default in LAYER_ARGS[self.type].items():  # in torch's argument order
            if name == "stride" and default is None:
                default = args["kernel_size"]
            if name in _TORCH_REQUIRED or args[name] != default:
                out[name] = args[name]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerSpec:
        if not isinstance(data, dict) or "type" not in data:
            raise ValueError('each layer must be an object with a "type", e.g. {"type": "relu"}')
        kwargs = {k: v for k, v in data.items() if k != "type"}
        return cls.make(str(data["type"]).lower(), **kwargs)

    def describe(self) -> str:
        """E.g. 'conv2d(out_channels=32, kernel_size=3, padding=1)'."""
        args = ", ".join(f"{k}={v}" for k, v in self.to_dict().items() if k != "type")
        return f"{self.type}({args})"


def layer(type: str, **kwargs: Any) -> LayerSpec:
    """Shorthand for `LayerSpec.make`."""
    return LayerSpec.make(type, **kwargs)


@dataclass(frozen=True)
class ModelSpec(JsonConfig):
    input: tuple[int, int, int] = (3, 32, 32)  # (channels, height, width) of one image
    num_classes: int = 4  # width of the last layer
    layers: tuple[LayerSpec, ...] = ()  # in order, from the image to the class scores

    def __post_init__(self) -> None:
        shape = tuple(self.input) if isinstance(self.input, (tuple, list)) else (self.input,)
        if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
            raise ValueError(f"input must be three positive whole numbers (C, H, W), got {self.input!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"num_classes must be a whole number of at least 2, got {self.num_classes!r}")
        object.__setattr__(self, "input", shape)
        object.__setattr__(self, "layers", tuple(self.layers))

    def to_dict(self) -> dict[str, Any]:
        return {"input": list(self.input), "num_classes": self.num_classes,
                "layers": [lay.to_dict() for lay in self.layers]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        if not isinstance(data, dict):
            raise ValueError("a model spec must be a JSON object with input, num_classes and layers")
        unknown = sorted(set(data) - {"input", "num_classes", "layers"})
        if unknown:
            raise ValueError(f"unknown spec field(s) {', '.join(unknown)}; expected input, num_classes, layers")
        raw_layers = data.get("layers", [])
        if not isinstance(raw_layers, list):
            raise ValueError("layers must be a list of layer objects")
        layers = []
        for i, raw in enumerate(raw_layers):
            try:
                layers.append(LayerSpec.from_dict(raw))
            except ValueError as exc:
                raise SpecError(i, str(exc), str(raw.get("type", "?")) if isinstance(raw, dict) else "?") from None
        inp = data.get("input", [3, 32, 32])
        return cls(tuple(inp) if isinstance(inp, list) else inp, data.get("num_classes", 4), tuple(layers))

    def to_json(self, indent: int | None = None) -> str:  # type: ignore[override]
        if indent is None:
            return super().to_json()
        return json.dumps(self.to_dict(), indent=indent)

    def with_io(self, input: tuple[int, int, int], num_classes: int) -> ModelSpec:
        """The same layers for another input shape and class count (the last linear layer follows)."""
        layers = list(self.layers)
        for i in range(len(layers) - 1, -1, -1):
            if layers[i].type == "linear":
                layers[i] = layer("linear", **{**layers[i].kwargs, "out_features": num_classes})
                break
        return ModelSpec(tuple(input), num_classes, tuple(layers))


# ---------------------------------------------------------------- shapes


def conv_out(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """The output length of a convolution or pooling: cnn_core.ops's formula."""
    return output_length(n, kernel, stride, padding, dilation)

def layer_output_shape(lay: LayerSpec, shape: tuple[int, ...], index: int = 0) -> tuple[int, ...]:
    """The output shape of one layer for an input shape (without batch); SpecError if it can't apply."""
    a, t = lay.kwargs, lay.type

    def fail(reason: str):
        return SpecError(index, reason, t)

    if t in IMAGE_LAYERS and len(shape) != 3:
        return_hint = "move it before flatten" if len(shape) == 1 else "it needs a (C, H, W) input"
        raise fail(f"{t} needs an image-shaped (C, H, W) input but gets a flat vector of {shape[0]}: {return_hint}")
    if t == "linear" and len(shape) != 1:
        raise fail(f"linear needs a flat vector but gets a {'×'.join(map(str, shape))} map: add a flatten layer before it")
    if t == "conv2d" or t.endswith("pool2d") and t != "adaptiveavgpool2d":
        c, h, w = shape
        k, s, p = a["kernel_size"], a["stride"], a["padding"]
        d = a.get("dilation", 1)
        if t != "conv2d" and p > k // 2:
            raise fail(f"padding {p} is more than half the kernel size {k}: PyTorch allows at most {k // 2}")
        span = d * (k - 1) + 1
        for side, n in (("height", h), ("width", w)):
            if span > n + 2 * p:
                what = f"kernel {k}" + (f" with dilation {d} spans {span}" if d > 1 else "")
                raise fail(f"{what} is larger than the padded input {side} {n} + 2×{p} = {n + 2 * p}: "
                           "add padding, use a smaller kernel, or remove a downsampling layer before it")
        out_c = a["out_channels"] if t == "conv2d" else c
        return (out_c, conv_out(h, k, s, p, d), conv_out(w, k, s, p, d))
    if t == "adaptiveavgpool2d":
        return (shape[0], a["output_size"], a["output_size"])
    if t == "flatten":
        n = 1
        for v in shape:
            n *= v
        return (n,)
    if t == "linear":
        return (a["out_features"],)
    return tuple(shape)  # batchnorm, activations, dropout keep the shape


def infer_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Each layer's output shape (without batch); SpecError at the first layer that breaks."""
    if not spec.layers:
        raise SpecError(-1, "it has no layers: add at least a flatten and a linear layer")
    shapes, shape = [], tuple(spec.input)
    for i, lay in enumerate(spec.layers):
        shape = layer_output_shape(lay, shape, i)
        shapes.append(shape)
    check_output(spec, shape)
    return shapes


def check_output(spec: ModelSpec, shape: tuple[int, ...]) -> None:
    """SpecError (at the last layer) unless the network ends with one score per class."""
    last = len(spec.layers) - 1
    if len(shape) != 1:
        raise SpecError(last, f"the network ends with a {'×'.join(map(str, shape))} map, not one score per class: "
                        f"finish with flatten and a linear layer of {spec.num_classes}", spec.layers[last].type)
    if shape[0] != spec.num_classes:
        raise SpecError(last, f"the network ends with {shape[0]} outputs but there are {spec.num_classes} classes: "
                        f"make the last linear layer's out_features {spec.num_classes}", spec.layers[last].type)


def check_fits(spec: ModelSpec, input_shape: tuple[int, ...], classes: tuple[str, ...], fix: str) -> None:
    """ValueError naming the difference when a model can't read images of `input_shape` into `classes`."""
    if tuple(spec.input) != tuple(input_shape):
        want, got = "×".join(map(str, spec.input)), "×".join(map(str, input_shape))
        raise ValueError(f"the model expects {want} (C×H×W) images but its dataset has {got}: {fix}")
    if spec.num_classes != len(classes):
        raise ValueError(f"the model scores {spec.num_classes} classes but its dataset has {len(classes)} "
                         f"({', '.join(classes)}): {fix}")


def build_model(spec: ModelSpec):
    """A real torch `nn.Sequential` for the spec (index i is layer i of the spec)."""
    import torch.nn as nn

    shapes = infer_shapes(spec)
    modules, shape = [], tuple(spec.input)
    for lay, out_shape in zip(spec.layers, shapes):
        kwargs = lay.kwargs
        if lay.type in INFERRED_ARG:
            kwargs[INFERRED_ARG[lay.type]] = shape[0]
        modules.append(getattr(nn, TORCH_CLASS[lay.type])(**kwargs))
        shape = out_shape
    return nn.Sequential(*modules)


# ---------------------------------------------------------------- presets


def _conv_block(channels: int, *, stride: int = 1, pool: str = "max", dropout: float = 0.25) -> list[LayerSpec]:
    """conv 3×3 → batch norm → ReLU → downsampling (max pool, or none when the conv strides) → Dropout2d."""
    out = [layer("conv2d", out_channels=channels, kernel_size=3, stride=stride, padding=1),
           layer("batchnorm2d"), layer("relu")]  # fmt: skip
    if pool == "max":
        out.append(layer("maxpool2d", kernel_size=2))
    if dropout:
        out.append(layer("dropout2d", p=dropout))
    return out


def _simple_head(num_classes: int) -> list[LayerSpec]:
    return [layer("flatten"), layer("linear", out_features=256), layer("relu"), layer("dropout", p=0.5),
            layer("linear", out_features=num_classes)]  # fmt: skip


def _simple_cnn(channels: tuple[int, ...], stride2: bool = False):
    def build(num_classes: int) -> list[LayerSpec]:
        layers: list[LayerSpec] = []
        for c in channels[:-1]:
            layers += _conv_block(c, stride=2 if stride2 else 1, pool="none" if stride2 else "max")
        layers += _conv_block(channels[-1], pool="none", dropout=0)
        return layers + [layer("adaptiveavgpool2d", output_size=4)] + _simple_head(num_classes)

    return build


def _lenet5(num_classes: int) -> list[LayerSpec]:
    return [
        layer("conv2d", out_channels=6, kernel_size=5), layer("tanh"), layer("avgpool2d", kernel_size=2),
        layer("conv2d", out_channels=16, kernel_size=5), layer("tanh"), layer("avgpool2d", kernel_size=2),
        layer("flatten"), layer("linear", out_features=120), layer("tanh"),
        layer("linear", out_features=84), layer("tanh"), layer("linear", out_features=num_classes),
    ]  # fmt: skip


def _tinyvgg(num_classes: int) -> list[LayerSpec]:
    conv = lambda: [layer("conv2d", out_channels=10, kernel_size=3), layer("relu")]  # noqa: E731
    return [*conv(), *conv(), layer("maxpool2d", kernel_size=2), *conv(), *conv(), layer("maxpool2d", kernel_size=2),
            layer("flatten"), layer("linear", out_features=num_classes)]  # fmt: skip


def _digits_small(num_classes: int) -> list[LayerSpec]:
    return [*_conv_block(16, dropout=0), *_conv_block(32, dropout=0), layer("flatten"),
            layer("linear", out_features=64), layer("relu"), layer("linear", out_features=num_classes)]  # fmt: skip


PRESETS = {
    "simple_cnn": ("SimpleCNN (3 conv blocks)", _simple_cnn((32, 64, 128))),
    "simple_cnn_4block": ("SimpleCNN with a 4th conv block", _simple_cnn((32, 64, 128, 256))),
    "simple_cnn_stride2": ("SimpleCNN, stride-2 convs instead of max pooling", _simple_cnn((32, 64, 128), stride2=True)),
    "lenet5": ("LeNet-5 (LeCun et al., 1998)", _lenet5),
    "tinyvgg": ("TinyVGG (CNN Explainer's model)", _tinyvgg),
    "digits_small": ("Small net for 8×8 digits", _digits_small),
}


def preset(name: str, input: tuple[int, int, int] = (3, 32, 32), num_classes: int = 4) -> ModelSpec:
    """A named preset network for an input shape and class count."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return ModelSpec(tuple(input), num_classes, tuple(PRESETS[name][1](num_classes)))


def load_spec(text_or_name: str, input: tuple[int, int, int] | None = None, num_classes: int | None = None) -> ModelSpec:
    """A preset name or a JSON spec (text), optionally moved to another input shape and class count."""
    name = text_or_name.strip()
    if name in PRESETS:
        return preset(name, input or (3, 32, 32), num_classes or 4)
    spec = ModelSpec.from_json(name)
    if input is not None or num_classes is not None:
        spec = spec.with_io(input or spec.input, num_classes or spec.num_classes)
    return spec
