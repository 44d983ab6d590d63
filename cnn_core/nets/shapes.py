"""The shape walk: each layer's output shape from its input shape, and where a spec breaks."""

from __future__ import annotations

from cnn_core.conv.ops import kernel_fits, kernel_span, output_length
from cnn_core.nets.layers import MISSING_HEAD, LayerSpec, SpecError
from cnn_core.nets.spec import ModelSpec


def shape_text(shape: tuple[int, ...]) -> str:
    """(3, 32, 32) → '3×32×32'."""
    return "×".join(map(str, shape))


def layer_output_shape(lay: LayerSpec, shape: tuple[int, ...], index: int = 0) -> tuple[int, ...]:
    """The output shape of one layer for an input shape (without batch); SpecError if it can't apply."""
    a, t = lay.kwargs, lay.type

    def fail(reason: str):
        return SpecError(index, reason, t)

    if lay.kind.needs_image and len(shape) != 3:
        hint = "move it before flatten" if len(shape) == 1 else "it needs a (C, H, W) input"
        raise fail(f"{t} needs an image-shaped (C, H, W) input but gets a flat vector of {shape[0]}: {hint}")
    if t == "linear" and len(shape) != 1:
        raise fail(f"linear needs a flat vector but gets a {shape_text(shape)} map: add a flatten layer before it")
    if t in ("conv2d", "maxpool2d", "avgpool2d"):
        c, h, w = shape
        k, s, p, d = a["kernel_size"], a["stride"], a["padding"], a.get("dilation", 1)
        if t != "conv2d" and p > k // 2:
            raise fail(f"padding {p} is more than half the kernel size {k}: PyTorch allows at most {k // 2}")
        for side, n in (("height", h), ("width", w)):
            if not kernel_fits(k, d, n + 2 * p):
                what = f"kernel {k}" + (f" with dilation {d} spans {kernel_span(k, d)}" if d > 1 else "")
                raise fail(f"{what} is larger than the padded input {side} {n} + 2×{p} = {n + 2 * p}: "
                           "add padding, use a smaller kernel, or remove a downsampling layer before it")
        out_c = a["out_channels"] if t == "conv2d" else c
        return (out_c, output_length(h, k, s, p, d), output_length(w, k, s, p, d))
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


def check_output(spec: ModelSpec, shape: tuple[int, ...]) -> None:
    """SpecError unless the network ends with one score per class.

    A network that still ends with a map lacks its head: that is blamed on the missing layer after the last
    (index len(layers)), not on the last layer, which did nothing wrong."""
    last = len(spec.layers) - 1
    if len(shape) != 1:
        raise SpecError(last + 1, f"the network ends with a {shape_text(shape)} map, not one score per class: "
                        f"finish with flatten and a linear layer of {spec.num_classes}", MISSING_HEAD)
    if shape[0] != spec.num_classes:
        raise SpecError(last, f"the network ends with {shape[0]} outputs but there are {spec.num_classes} classes: "
                        f"make the last linear layer's out_features {spec.num_classes}", spec.layers[last].type)


def walk(spec: ModelSpec):
    """Yield (index, layer, input shape, output shape) for each layer; SpecError at the first that breaks."""
    if not spec.layers:
        raise SpecError(-1, "it has no layers: add at least a flatten and a linear layer")
    shape = tuple(spec.input)
    for i, lay in enumerate(spec.layers):
        out = layer_output_shape(lay, shape, i)
        yield i, lay, shape, out
        shape = out
    check_output(spec, shape)


def infer_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Each layer's output shape (without batch); SpecError at the first layer that breaks."""
    return [out for _, _, _, out in walk(spec)]
