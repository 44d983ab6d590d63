"""What every layer of a spec does: output shape, parameters, multiply-accumulates, receptive field, memory.

All from formulas (no torch), so that a page can show each number with the arithmetic behind it.
Conventions, checked against torch in tests/test_summary.py:
- `params` are PyTorch's parameters (`sum(p.numel())`), all trainable; `buffers` are the non-trainable
  floating-point numbers a layer keeps (BatchNorm's running mean and variance; its integer step counter
  `num_batches_tracked` is not counted).
- `macs` are multiply-accumulates for one image in conv2d and linear layers, bias additions not included:
  half of what `torch.utils.flop_counter.FlopCounterMode` reports. Pooling, batch norm, activations and
  dropout do comparisons or element-wise work, not multiply-accumulates, and count 0 (as in that counter).
- `receptive_field` is the side, in input pixels, of the window one output unit can see, padding included
  (so it may exceed the image); `jump` is the distance in input pixels between neighbouring output units.
  Both are None once the tensor is flat: every feature then sees the whole image. An adaptive pool whose
  input is not a multiple of its output has windows that differ by a pixel: we count the largest window
  and step, so from there on both are upper bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, floor
from typing import Any

from cnn_core.conv.ops import kernel_span, output_length
from cnn_core.nets.layers import LayerSpec, SpecError, layer_names
from cnn_core.nets.shapes import walk
from cnn_core.nets.spec import ModelSpec

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class LayerRow:
    index: int  # position in the spec, from 0
    name: str  # e.g. "conv1", "bn1", "fc2": short type name and its count so far
    type: str  # the spec's layer type
    output_shape: tuple[int, ...]  # (C, H, W) or (features,), without the batch
    params: int  # trainable parameters (weights and biases)
    buffers: int  # non-trainable numbers (BatchNorm's running mean and variance)
    macs: int  # multiply-accumulates for one image
    receptive_field: int | None  # input pixels on a side that one output unit sees; None once flat
    jump: int | None  # input pixels between neighbouring output units (the effective stride); None once flat
    memory: int  # bytes of this layer's float32 output for one image
    formula: str  # how the output size follows, with this layer's numbers ("" when the shape is unchanged)
    params_formula: str  # how the parameter count follows ("" without parameters)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "type": self.type, "output_shape": list(self.output_shape),
                "params": self.params, "non_trainable_params": self.buffers, "macs": self.macs,
                "receptive_field": self.receptive_field, "jump": self.jump, "memory_bytes": self.memory,
                "formula": self.formula, "params_formula": self.params_formula}  # fmt: skip


@dataclass(frozen=True)
class Summary:
    spec: ModelSpec
    rows: tuple[LayerRow, ...]  # every layer, or those before the first that breaks
    error: SpecError | None = None  # the first layer that breaks and why; None when the spec is valid
    warnings: tuple[str, ...] = ()  # what works but is likely a mistake (an adaptive pool that upsamples)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_buffers(self) -> int:
        return sum(r.buffers for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Float32 bytes of every layer's output for one image (what training keeps for the backward pass)."""
        return sum(r.memory for r in self.rows)

    @property
    def param_bytes(self) -> int:
        """Float32 bytes of the parameters and buffers."""
        return BYTES_PER_VALUE * (self.total_params + self.total_buffers)

    def to_dict(self) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {"index": self.error.index, "type": self.error.layer_type, "reason": self.error.reason}
        return {"spec": self.spec.to_dict(), "layers": [r.to_dict() for r in self.rows],
                "total_params": self.total_params, "total_non_trainable_params": self.total_buffers,
                "total_macs": self.total_macs, "activation_bytes": self.activation_bytes,
                "param_bytes": self.param_bytes, "error": error, "warnings": list(self.warnings)}  # fmt: skip


def _size_formula(n: int, k: int, s: int, p: int, d: int) -> str:
    span = f"{d}×({k} − 1) − 1" if d > 1 else f"{k}"
    return f"⌊({n} + 2×{p} − {span}) / {s}⌋ + 1 = {output_length(n, k, s, p, d)}"


def _adaptive_window(n: int, m: int) -> int:
    """The largest window of an adaptive pool from n to m (torch: rows ⌊i·n/m⌋ up to ⌈(i+1)·n/m⌉)."""
    return max(ceil((i + 1) * n / m) - floor(i * n / m) for i in range(m))


def _numbers(lay: LayerSpec, inp: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, int, int, str, str]:
    """params, buffers, MACs, the output-size formula and the parameter formula of one layer."""
    a, t = lay.kwargs, lay.type
    if t == "conv2d":
        c_in, c_out, k = inp[0], out[0], a["kernel_size"]
        weights, bias = c_out * c_in * k * k, c_out if a["bias"] else 0
        h, w = (_size_formula(n, k, a["stride"], a["padding"], a["dilation"]) for n in inp[1:])
        formula = h if inp[1] == inp[2] else f"H: {h}; W: {w}"
        pf = f"({c_in}×{k}×{k}{' + 1' if bias else ''}) × {c_out} = {weights + bias:,}"
        return weights + bias, 0, c_out * out[1] * out[2] * c_in * k * k, formula, pf
    if t == "linear":
        n_in, n_out = inp[0], out[0]
        bias = n_out if a["bias"] else 0
        pf = f"({n_in}{' + 1' if bias else ''}) × {n_out} = {n_in * n_out + bias:,}"
        return n_in * n_out + bias, 0, n_in * n_out, f"{n_in} → {n_out}", pf
    if t == "batchnorm2d":
        c = inp[0]
        return 2 * c, 2 * c, 0, "", f"2 × {c} = {2 * c} (scale and shift; plus {2 * c} running statistics)"
    if t in ("maxpool2d", "avgpool2d"):
        h, w = (_size_formula(n, a["kernel_size"], a["stride"], a["padding"], 1) for n in inp[1:])
        return 0, 0, 0, h if inp[1] == inp[2] else f"H: {h}; W: {w}", ""
    if t == "adaptiveavgpool2d":
        m = a["output_size"]
        k = max(_adaptive_window(n, m) for n in inp[1:])
        return 0, 0, 0, f"{inp[1]}×{inp[2]} → {m}×{m}, windows up to {k}×{k}", ""
    if t == "flatten" and len(inp) == 3:
        return 0, 0, 0, f"{inp[0]} × {inp[1]} × {inp[2]} = {out[0]:,}", ""
    return 0, 0, 0, "", ""


def _receptive(lay: LayerSpec, inp: tuple[int, ...], rf: int | None, jump: int | None):
    """The receptive field and jump after a layer, from those before it: r += (k_eff − 1)·j; j *= stride."""
    if rf is None or jump is None or len(inp) != 3 or lay.type in ("flatten", "linear"):
        return None, None
    a = lay.kwargs
    if lay.type in ("conv2d", "maxpool2d", "avgpool2d"):
        span = kernel_span(a["kernel_size"], a.get("dilation", 1))
        return rf + (span - 1) * jump, jump * a["stride"]
    if lay.type == "adaptiveavgpool2d":
        # Unless n is a multiple of m, windows and steps differ by a pixel: take the largest (an upper bound).
        m, n = a["output_size"], max(inp[1:])
        return rf + (_adaptive_window(n, m) - 1) * jump, jump * ceil(n / m)
    return rf, jump


def _warning(lay: LayerSpec, index: int, name: str, inp: tuple[int, ...]) -> str:
    """What works but is likely a mistake: an adaptive pool that makes the image larger, inventing pixels."""
    if lay.type == "adaptiveavgpool2d" and len(inp) == 3 and lay.kwargs["output_size"] > min(inp[1:]):
        m = lay.kwargs["output_size"]
        return (f"layer {index} ({name}) upsamples: it turns a {inp[1]}×{inp[2]} map into {m}×{m}, repeating pixels "
                "instead of summarising them. Lower its output size, or remove a downsampling layer before it.")
    return ""


def summarize(spec: ModelSpec) -> Summary:
    """Every layer's numbers; an invalid spec gives the rows before the breaking layer and the SpecError."""
    rows: list[LayerRow] = []
    warnings: list[str] = []
    rf, jump = 1, 1
    names = layer_names(spec.layers)
    try:
        for i, lay, shape, out in walk(spec):
            params, buffers, macs, formula, pf = _numbers(lay, shape, out)
            rf, jump = _receptive(lay, shape, rf, jump)
            size = 1
            for v in out:
                size *= v
            rows.append(LayerRow(i, names[i], lay.type, out, params, buffers, macs, rf, jump,
                                 BYTES_PER_VALUE * size, formula, pf))  # fmt: skip
            if warning := _warning(lay, i, names[i], shape):
                warnings.append(warning)
    except SpecError as exc:
        return Summary(spec, tuple(rows), exc, tuple(warnings))
    return Summary(spec, tuple(rows), warnings=tuple(warnings))


def format_count(n: float) -> str:
    """1234 → '1,234'; 12_345_678 → '12.3 M'; for totals a learner reads at a glance (a crafted spec's 1e30 too)."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}" if abs(n) >= 1000 * size else f"{n / size:.1f} {unit}"
    return f"{n:,.0f}"


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}" if n >= 1000 * size else f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"
