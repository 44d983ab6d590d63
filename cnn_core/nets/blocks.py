"""A CNN described block by block (how many conv blocks, how wide, how they shrink the image), and back.

A block is conv → [batch norm] → activation → [downsampling] → [Dropout2d]; the head is
[adaptive average pool] → flatten → [linear hidden → activation → [dropout]] → linear to the classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnn_core.jsonconfig import JsonConfig
from cnn_core.nets.layers import ACTIVATIONS, LayerSpec, layer
from cnn_core.nets.spec import ModelSpec

DOWNSAMPLING = ("max", "avg", "stride")  # max pool 2, average pool 2, or the block's conv with stride 2
MAX_BLOCKS = 8


@dataclass(frozen=True)
class BlockDesign(JsonConfig):
    num_blocks: int = 3  # conv blocks, from the image inwards
    channels: tuple[int, ...] = (32, 64, 128)  # out_channels of each block's conv, one per block
    kernel_size: int = 3  # every conv's kernel; padding kernel_size // 2 keeps the size at stride 1
    downsample: str = "max"  # how a block halves the image: "max" pool, "avg" pool or "stride"-2 conv
    downsample_last: bool = False  # whether the last block halves the image too (else the head pool does)
    batch_norm: bool = True  # BatchNorm2d after each conv
    activation: str = "relu"  # after each conv (and the hidden linear layer)
    dropout: float = 0.25  # Dropout2d p after each block that halves the image; 0 = none
    head_pool: int = 4  # AdaptiveAvgPool2d output size before flatten; 0 = none
    hidden: int = 256  # width of the hidden linear layer; 0 = straight to the classes
    head_dropout: float = 0.5  # dropout p after the hidden layer; 0 = none

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if not 1 <= self.num_blocks <= MAX_BLOCKS:
            raise ValueError(f"num_blocks must be from 1 to {MAX_BLOCKS}, got {self.num_blocks}")
        if len(self.channels) != self.num_blocks:
            raise ValueError(f"give one channel count per block: {self.num_blocks} blocks but "
                             f"{len(self.channels)} channel counts {list(self.channels)}")  # fmt: skip
        if self.downsample not in DOWNSAMPLING:
            raise ValueError(f"unknown downsampling {self.downsample!r}; expected one of {', '.join(DOWNSAMPLING)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        for name in ("head_pool", "hidden"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (none) or more, got {getattr(self, name)}")
        # The layers check the rest (channels ≥ 1, kernel ≥ 1, 0 ≤ p < 1) with their own messages.
        self.layers(2)

    def layers(self, num_classes: int) -> list[LayerSpec]:
        k = self.kernel_size
        out: list[LayerSpec] = []
        for i, c in enumerate(self.channels):
            halves = i < self.num_blocks - 1 or self.downsample_last
            stride = 2 if halves and self.downsample == "stride" else 1
            out.append(layer("conv2d", out_channels=c, kernel_size=k, stride=stride, padding=k // 2))
            if self.batch_norm:
                out.append(layer("batchnorm2d"))
            out.append(layer(self.activation))
            if halves and self.downsample != "stride":
                out.append(layer(f"{self.downsample}pool2d", kernel_size=2))
            if halves and self.dropout:
                out.append(layer("dropout2d", p=self.dropout))
        if self.head_pool:
            out.append(layer("adaptiveavgpool2d", output_size=self.head_pool))
        out.append(layer("flatten"))
        if self.hidden:
            out += [layer("linear", out_features=self.hidden), layer(self.activation)]
            if self.head_dropout:
                out.append(layer("dropout", p=self.head_dropout))
        return out + [layer("linear", out_features=num_classes)]

    def to_spec(self, input: tuple[int, int, int], num_classes: int) -> ModelSpec:
        return ModelSpec(tuple(input), num_classes, tuple(self.layers(num_classes)))


def design_of(spec: ModelSpec) -> BlockDesign | None:
    """The block design that gives exactly this spec, or None when the spec is not block-shaped."""
    layers = list(spec.layers)
    types = [lay.type for lay in layers]
    convs = [i for i, t in enumerate(types) if t == "conv2d"]
    if not convs or "flatten" not in types:
        return None
    first = layers[convs[0]].kwargs
    after_first = types[convs[0] + 1 : convs[1] if len(convs) > 1 else types.index("flatten")]
    activation = next((t for t in after_first if t in ACTIVATIONS), None)
    pools = [t for t in types if t in ("maxpool2d", "avgpool2d")]
    strided = [i for i in convs if layers[i].kwargs["stride"] == 2]
    drops = [lay.kwargs["p"] for lay in layers if lay.type == "dropout2d"]
    head_drops = [lay.kwargs["p"] for lay in layers if lay.type == "dropout"]
    adaptive = [lay.kwargs["output_size"] for lay in layers if lay.type == "adaptiveavgpool2d"]
    linears = [lay.kwargs["out_features"] for lay in layers if lay.type == "linear"]
    if activation is None:
        return None
    halving = len(strided) if strided else len(pools)
    try:
        design = BlockDesign(
            num_blocks=len(convs),
            channels=tuple(layers[i].kwargs["out_channels"] for i in convs),
            kernel_size=first["kernel_size"],
            downsample="stride" if strided else (pools[0][:3] if pools else "max"),
            downsample_last=halving == len(convs),
            batch_norm="batchnorm2d" in types,
            activation=activation,
            dropout=drops[0] if drops else 0.0,
            head_pool=adaptive[0] if adaptive else 0,
            hidden=linears[0] if len(linears) == 2 else 0,
            head_dropout=head_drops[0] if head_drops else 0.0,
        )
    except ValueError:
        return None
    return design if design.to_spec(spec.input, spec.num_classes) == spec else None
