"""The calculator against PyTorch: a real forward pass, FlopCounterMode and input gradients.

The torch reference below builds each layer from the tensor it actually receives (not from our shape
walk), so it is an independent judge of shapes, parameter counts, MACs and where a network breaks.
"""

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from cnn_core.nets.build import build_model
from cnn_core.nets.layers import LAYER_TYPES, LayerSpec, SpecError, layer, layer_names
from cnn_core.nets.presets import NETWORKS, network
from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import Summary, format_bytes, format_count, summarize

torch.set_num_threads(1)
IMAGE_TYPES = ("conv2d", "batchnorm2d", "relu", "leakyrelu", "gelu", "tanh", "sigmoid", "maxpool2d", "avgpool2d",
               "adaptiveavgpool2d", "dropout2d")  # fmt: skip
PRESET_IO = [((3, 32, 32), 4), ((1, 28, 28), 10), ((3, 64, 48), 6)]


# ---------------------------------------------------------------- the torch reference


def _module(lay: LayerSpec, x: torch.Tensor) -> nn.Module:
    kwargs = lay.kwargs
    inferred = {"conv2d": "in_channels", "batchnorm2d": "num_features", "linear": "in_features"}
    if lay.type in inferred:
        kwargs[inferred[lay.type]] = x.shape[1]
    return getattr(nn, LAYER_TYPES[lay.type].torch_class)(**kwargs)


def torch_walk(spec: ModelSpec):
    """Per layer (shape, params, float buffers, MACs) from torch, and the index where torch fails (or None).

    A failure is torch raising, or warning that the input is deprecated (Dropout2d on a flat vector), or a
    Linear layer given a 4-D map (torch would silently mix only its last axis), or a network whose output is
    not (batch, num_classes): then the missing head (index len(layers)) is to blame when it is still a map, and
    the last layer when it has the wrong number of scores.
    """
    x = torch.rand(2, *spec.input)
    rows = []
    for i, lay in enumerate(spec.layers):
        if lay.type == "linear" and x.dim() != 2:
            return rows, i
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                module = _module(lay, x).eval()
                with torch.no_grad():
                    y = module(x)
        except (RuntimeError, ValueError, UserWarning):
            return rows, i
        meta = copy.deepcopy(module).to("meta")
        with FlopCounterMode(display=False) as counter:
            meta(x.to("meta")[:1])
        params = sum(p.numel() for p in module.parameters())
        buffers = sum(b.numel() for b in module.buffers() if b.is_floating_point())
        rows.append((tuple(y.shape[1:]), params, buffers, counter.get_total_flops() // 2))
        x = y
    if x.dim() != 2:
        return rows, len(spec.layers)
    if x.shape[1] != spec.num_classes:
        return rows, len(spec.layers) - 1
    return rows, None


def assert_matches_torch(spec: ModelSpec) -> Summary:
    summary = summarize(spec)
    rows, failed = torch_walk(spec)
    ours = [(r.output_shape, r.params, r.buffers, r.macs) for r in summary.rows]
    if failed is None:
        assert summary.ok, f"{spec.to_json()}: we flag {summary.error}, torch runs"
        assert ours == rows
    else:
        assert summary.error is not None, f"{spec.to_json()}: torch fails at layer {failed}, we don't"
        assert summary.error.index == failed, f"{spec.to_json()}: {summary.error}"
        assert ours == rows[: len(ours)] and len(ours) >= failed
    return summary


def gradient_receptive_field(layers: list[LayerSpec], input: tuple[int, int, int]) -> int:
    """Rows of the input that the centre output unit of a conv/pool stack depends on (first to last).

    Positive weights, eval-mode batch norm and a positive input keep every path's gradient positive;
    max pools become average pools of the same geometry (a max routes its gradient to one pixel only).
    """
    x = torch.ones(1, *input, dtype=torch.float64, requires_grad=True)
    y = x
    for lay in layers:
        if lay.type == "maxpool2d":
            lay = layer("avgpool2d", **lay.kwargs)
        module = _module(lay, y).double().eval()
        if isinstance(module, nn.Conv2d):
            with torch.no_grad():
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
        y = module(y)
    y[0, 0, (y.shape[2] - 1) // 2, (y.shape[3] - 1) // 2].backward()
    rows = np.flatnonzero(x.grad[0].abs().sum(dim=(0, 2)).numpy() > 0)
    assert rows[0] > 0 and rows[-1] < input[1] - 1, "the receptive field reaches the border: enlarge the input"
    return int(rows[-1] - rows[0] + 1)


def assert_receptive_field_matches_gradient(spec: ModelSpec) -> None:
    """The conv/pool stack before the first flatten or adaptive pool, on one channel and a large input.

    Receptive fields do not depend on the channels or the input size, so the stack is rebuilt with one
    channel on an input large enough that the centre unit's field does not reach the border.
    """
    summary = summarize(spec)
    n = 0
    while n < len(summary.rows) and spec.layers[n].type in {"conv2d", "batchnorm2d", "maxpool2d", "avgpool2d", "dropout2d",
                                                               "relu", "leakyrelu", "gelu", "tanh", "sigmoid"}:
        n += 1
    if n == 0:
        return
    prefix = [layer("conv2d", **{**lay.kwargs, "out_channels": 1}) if lay.type == "conv2d" else lay
              for lay in spec.layers[:n]]  # fmt: skip
    rf = summary.rows[n - 1].receptive_field
    # Square and large (several output units a side), so that the centre unit sees real pixels, not padding.
    side = 3 * rf + 8 * summary.rows[n - 1].jump + 16
    assert gradient_receptive_field(prefix, (1, side, side)) == rf, spec.to_json()


# ---------------------------------------------------------------- random specs


def random_spec(rng: np.random.Generator) -> ModelSpec:
    """A small random CNN; about one in three is broken on purpose, and more break by shrinking too far."""
    size = int(rng.integers(3, 33))
    width = size if rng.random() < 0.7 else int(rng.integers(3, 33))
    inp = (int(rng.choice([1, 3])), size, width)
    classes = int(rng.integers(2, 11))
    layers: list[LayerSpec] = []
    for _ in range(int(rng.integers(1, 9))):
        t = str(rng.choice(IMAGE_TYPES, p=[0.3, 0.08, 0.08, 0.04, 0.04, 0.04, 0.04, 0.12, 0.12, 0.06, 0.08]))
        if t == "conv2d":
            k = int(rng.integers(1, 6))
            layers.append(layer(t, out_channels=int(rng.integers(1, 13)), kernel_size=k, stride=int(rng.integers(1, 4)),
                                padding=int(rng.integers(0, 3)), dilation=int(rng.choice([1, 1, 2])),
                                bias=bool(rng.random() < 0.8)))  # fmt: skip
        elif t in ("maxpool2d", "avgpool2d"):
            k = int(rng.integers(1, 5))
            stride = None if rng.random() < 0.5 else int(rng.integers(1, 4))
            layers.append(layer(t, kernel_size=k, stride=stride, padding=int(rng.integers(0, k // 2 + 1))))
        elif t == "adaptiveavgpool2d":
            layers.append(layer(t, output_size=int(rng.integers(1, 7))))
        elif t == "dropout2d":
            layers.append(layer(t, p=0.25))
        elif t == "leakyrelu":
            layers.append(layer(t, negative_slope=0.1))
        else:
            layers.append(layer(t))
    layers.append(layer("flatten"))
    if rng.random() < 0.5:
        layers += [layer("linear", out_features=int(rng.integers(2, 33))), layer("relu"), layer("dropout", p=0.5)]
    layers.append(layer("linear", out_features=classes))
    mistake = rng.random()
    if mistake < 0.08:  # an image layer after flatten
        misplaced = [layer("conv2d", out_channels=4), layer("maxpool2d"), layer("batchnorm2d"), layer("dropout2d")]
        layers.insert(layers.index(layer("flatten")) + 1, misplaced[int(rng.integers(0, 4))])
    elif mistake < 0.16:  # forgot flatten
        layers.remove(layer("flatten"))
    elif mistake < 0.24:  # wrong number of outputs
        layers[-1] = layer("linear", out_features=classes + 1)
    elif mistake < 0.3:  # pool padding more than half its kernel
        layers.insert(0, layer("maxpool2d", kernel_size=2, padding=2))
    elif mistake < 0.34:  # ends with a map
        layers = layers[: layers.index(layer("flatten"))] if layer("flatten") in layers else layers
    return ModelSpec(inp, classes, tuple(layers))


def random_specs(n_valid: int, seed: int = 0) -> tuple[list[ModelSpec], list[ModelSpec]]:
    rng = np.random.default_rng(seed)
    valid, invalid = [], []
    while len(valid) < n_valid:
        spec = random_spec(rng)
        (valid if summarize(spec).ok else invalid).append(spec)
    return valid, invalid


VALID, INVALID = random_specs(220)


# ---------------------------------------------------------------- agreement with torch


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("io", PRESET_IO)
def test_preset_rows_equal_torch(name, io):
    assert_matches_torch(network(name, *io))


@pytest.mark.parametrize("name", [n for n in NETWORKS if n != "lenet5"])
def test_preset_receptive_fields_equal_the_input_gradient(name):
    assert_receptive_field_matches_gradient(network(name))


def test_lenet5_breaks_on_8x8_digits_at_its_second_conv():
    summary = assert_matches_torch(network("lenet5", (1, 8, 8), 10))
    assert summary.error.index == 3
    assert "kernel 5 is larger than the padded input height 2 + 2×0 = 2" in summary.error.reason


def test_random_valid_specs_equal_torch():
    assert len(VALID) >= 200
    for spec in VALID:
        assert_matches_torch(spec)


def test_random_invalid_specs_fail_where_torch_fails():
    assert len(INVALID) >= 100
    kinds = {summarize(s).error.reason.split(" ")[0] for s in INVALID}
    assert len(kinds) >= 4, kinds  # the generator breaks networks in several ways
    for spec in INVALID:
        assert_matches_torch(spec)


def test_random_receptive_fields_equal_the_input_gradient():
    for spec in VALID:
        assert_receptive_field_matches_gradient(spec)


def test_adaptive_pool_to_a_divisor_is_an_average_pool():
    layers = [layer("conv2d", out_channels=4, kernel_size=3, padding=1), layer("maxpool2d", kernel_size=2)]
    head = [layer("flatten"), layer("linear", out_features=3)]
    adaptive = ModelSpec((3, 16, 16), 3, (*layers, layer("adaptiveavgpool2d", output_size=2), *head))
    pooled = ModelSpec((3, 16, 16), 3, (*layers, layer("avgpool2d", kernel_size=4), *head))
    x = torch.rand(1, 4, 8, 8)
    torch.testing.assert_close(nn.AdaptiveAvgPool2d(2)(x), nn.AvgPool2d(4)(x))
    a, p = summarize(adaptive).rows[2], summarize(pooled).rows[2]
    assert (a.receptive_field, a.jump, a.output_shape) == (p.receptive_field, p.jump, p.output_shape) == (10, 8, (4, 2, 2))


# ---------------------------------------------------------------- hand-worked numbers


def test_simple_cnn_has_619268_parameters_not_540000():
    summary = summarize(network("simple_cnn"))
    assert summary.total_params == 619_268
    assert summary.total_buffers == 2 * (32 + 64 + 128)
    assert sum(p.numel() for p in build_model(network("simple_cnn")).parameters()) == 619_268


def test_conv_formula_shows_the_numbers():
    row = summarize(network("simple_cnn")).rows[0]
    assert row.formula == "⌊(32 + 2×1 − 3) / 1⌋ + 1 = 32"
    assert row.params_formula == "(3×3×3 + 1) × 32 = 896"
    assert (row.receptive_field, row.jump, row.memory) == (3, 1, 4 * 32 * 32 * 32)


def test_stride_two_halves_the_output_and_doubles_the_jump():
    spec = ModelSpec((1, 9, 7), 2, (layer("conv2d", out_channels=2, kernel_size=3, stride=2, padding=1, dilation=2),
                                    layer("flatten"), layer("linear", out_features=2)))  # fmt: skip
    row = summarize(spec).rows[0]
    assert row.output_shape == (2, 4, 3)
    assert row.formula == "H: ⌊(9 + 2×1 − 2×(3 − 1) − 1) / 2⌋ + 1 = 4; W: ⌊(7 + 2×1 − 2×(3 − 1) − 1) / 2⌋ + 1 = 3"
    assert (row.receptive_field, row.jump) == (5, 2)


def test_layer_names_count_each_kind():
    assert layer_names(network("lenet5").layers)[:4] == ["conv1", "tanh1", "avgpool1", "conv2"]


def test_formatting_of_counts_and_bytes():
    assert (format_count(619_268), format_count(10_847_232), format_count(2.5e9)) == ("619,268", "10.8 M", "2.5 G")
    assert (format_bytes(16), format_bytes(131_072), format_bytes(3 * 2**20)) == ("16 B", "128.0 KB", "3.0 MB")


def test_summary_dict_has_the_public_fields():
    d = summarize(network("tinyvgg")).to_dict()
    assert {"layers", "total_params", "total_macs", "error"} <= set(d)
    assert {"name", "type", "output_shape", "params", "macs", "receptive_field"} <= set(d["layers"][0])


# ---------------------------------------------------------------- every error path


def _spec(*layers, input=(3, 8, 8), classes=3):
    return ModelSpec(input, classes, tuple(layers))


FLAT, OUT = layer("flatten"), layer("linear", out_features=3)
ERRORS = [
    (_spec(), -1, "no layers"),
    (_spec(layer("conv2d", out_channels=4, kernel_size=9), FLAT, OUT), 0, "larger than the padded input"),
    (_spec(layer("maxpool2d", kernel_size=4), layer("maxpool2d", kernel_size=4), FLAT, OUT), 1, "larger than the padded"),
    (_spec(layer("avgpool2d", kernel_size=3, padding=2), FLAT, OUT), 0, "more than half the kernel size"),
    (_spec(FLAT, layer("conv2d", out_channels=4), OUT), 1, "move it before flatten"),
    (_spec(layer("linear", out_features=3)), 0, "add a flatten layer before it"),
    (_spec(layer("conv2d", out_channels=4)), 1, "ends with a 4×6×6 map"),
    (_spec(FLAT, layer("linear", out_features=5)), 1, "5 outputs but there are 3 classes"),
]


@pytest.mark.parametrize(("spec", "index", "reason"), ERRORS, ids=[e[2] for e in ERRORS])
def test_invalid_spec_gives_the_layer_and_a_reason_not_a_traceback(spec, index, reason):
    summary = summarize(spec)
    assert summary.error.index == index and reason in summary.error.reason
    ends = "ends with" in summary.error.reason  # judged after the last layer, so every row is there
    assert len(summary.rows) == (len(spec.layers) if ends else max(index, 0))
    if ends and "map" in summary.error.reason:  # the missing head is blamed, not the last layer
        assert summary.error.index == len(spec.layers) and summary.error.layer_type == "missing head"
    if spec.layers:
        assert_matches_torch(spec)


def test_a_bad_layer_in_json_names_its_index():
    with pytest.raises(SpecError, match=r"layer 1 \(conv2d\): conv2d needs out_channels"):
        ModelSpec.from_dict({"input": [1, 8, 8], "num_classes": 2, "layers": [{"type": "relu"}, {"type": "conv2d"}]})
