"""Named networks, built for any input shape and class count, and the one rule for which a dataset starts with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnn_core.nets.layers import LayerSpec, layer
from cnn_core.nets.spec import ModelSpec


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


@dataclass(frozen=True)
class Network:
    title: str  # the name a learner reads, e.g. "SimpleCNN (3 conv blocks)"
    layers: Callable[[int], list[LayerSpec]]  # the layers for a class count


NETWORKS: dict[str, Network] = {
    "simple_cnn": Network("SimpleCNN (3 conv blocks)", _simple_cnn((32, 64, 128))),
    "simple_cnn_4block": Network("SimpleCNN with a 4th conv block", _simple_cnn((32, 64, 128, 256))),
    "simple_cnn_stride2": Network("SimpleCNN, stride-2 convs instead of max pooling",
                                  _simple_cnn((32, 64, 128), stride2=True)),
    "lenet5": Network("LeNet-5 (LeCun et al., 1998)", _lenet5),
    "tinyvgg": Network("TinyVGG (CNN Explainer's model)", _tinyvgg),
    "digits_small": Network("Small net for 8×8 digits", _digits_small),
}
# The network each dataset starts with until the learner designs one (on every page that needs one).
DEFAULT_NETWORK = {"shapes": "simple_cnn", "digits": "digits_small", "folder": "simple_cnn"}


def network(name: str, input: tuple[int, int, int] = (3, 32, 32), num_classes: int = 4) -> ModelSpec:
    """A named network for an input shape and class count."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; expected one of {', '.join(NETWORKS)}")
    return ModelSpec(tuple(input), num_classes, tuple(NETWORKS[name].layers(num_classes)))


def default_for(data_config) -> str:
    """The name of the network a dataset (its DataConfig) starts with, on the Architecture and Training pages alike."""
    if data_config.dataset not in DEFAULT_NETWORK:
        raise ValueError(f"unknown dataset {data_config.dataset!r}; expected one of {', '.join(DEFAULT_NETWORK)}")
    return DEFAULT_NETWORK[data_config.dataset]


def default_rule() -> str:
    """The rule in words, for the pages that state it."""
    return "; ".join(f"{dataset}: {NETWORKS[name].title}" for dataset, name in DEFAULT_NETWORK.items())


def load_spec(text_or_name: str, input: tuple[int, int, int] | None = None, num_classes: int | None = None) -> ModelSpec:
    """A network's name or a JSON spec (text), optionally moved to another input shape and class count."""
    name = text_or_name.strip()
    if name in NETWORKS:
        return network(name, input or (3, 32, 32), num_classes or 4)
    spec = ModelSpec.from_json(name)
    if input is not None or num_classes is not None:
        spec = spec.with_io(input or spec.input, num_classes or spec.num_classes)
    return spec
