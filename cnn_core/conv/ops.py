"""Convolution and pooling in NumPy, computed as torch.nn.functional does, with a step trace for teaching."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

POOL_KINDS = ("max", "avg")


def _is_whole(value: object, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= least


def _check_positive(name: str, value: int) -> None:
    if not _is_whole(value, 1):
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


def output_length(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((n + 2p − d(k−1) − 1) / s) + 1, unchecked: the one place this formula is written."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def kernel_span(kernel: int, dilation: int = 1) -> int:
    """How many input pixels a (dilated) kernel covers: d(k−1)+1."""
    return dilation * (kernel - 1) + 1


def kernel_fits(kernel: int, dilation: int, padded: int) -> bool:
    """Whether a (dilated) kernel fits in a padded input length: torch refuses it otherwise."""
    return kernel_span(kernel, dilation) <= padded


def _check_fits(kernel: int, dilation: int, n: int, padded: int, what: str = "") -> None:
    """A ValueError when the span of a kernel is larger than the padded input."""
    span = kernel_span(kernel, dilation)
    if not kernel_fits(kernel, dilation, padded):
        raise ValueError(
            f"the kernel spans {span} pixels{what} (size {kernel}, dilation {dilation}) but the padded input has "
            f"only {padded} (size {n} plus padding): use a smaller kernel or dilation, or more padding"
        )


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) zero padding that keeps the size at stride 1; the odd extra pixel goes after, as in torch."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def conv_paddings(padding: int | str, kh: int, kw: int, stride: int = 1, dilation: int = 1) -> tuple[tuple[int, int], ...]:
    """((top, bottom), (left, right)) zero padding from an int or "same"."""
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"padding must be a whole number or 'same', got {padding!r}")
        if stride != 1:
            raise ValueError(f"padding 'same' works only with stride 1, got stride {stride}: use a number instead")
        return same_padding(kh, dilation), same_padding(kw, dilation)
    if not _is_whole(padding, 0):
        raise ValueError(f"padding must be a whole number of 0 or more, or 'same', got {padding!r}")
    return (int(padding), int(padding)), (int(padding), int(padding))


def _as_chw(x: np.ndarray, name: str = "input") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"the {name} must be (channels, height, width), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"the {name} holds NaN or infinite values: every value must be a finite number")
    return x


def pad_input(x: np.ndarray, w_shape: tuple[int, ...], stride: int = 1, padding: int | str = 0,
              dilation: int = 1) -> np.ndarray:
    """The zero-padded (C, H, W) input a kernel of shape w_shape slides over."""
    x = _as_chw(x)
    _check_positive("stride", stride)
    _check_positive("dilation", dilation)
    kh, kw = w_shape[-2:]
    (top, bottom), (left, right) = conv_paddings(padding, kh, kw, stride, dilation)
    _check_fits(kh, dilation, x.shape[1], x.shape[1] + top + bottom, " in height")
    _check_fits(kw, dilation, x.shape[2], x.shape[2] + left + right, " in width")
    return np.pad(x, ((0, 0), (top, bottom), (left, right)))


def _as_kernel(w: np.ndarray, channels: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"the kernel must be (out channels, in channels, height, width), got shape {w.shape}")
    if w.shape[1] != channels:
        raise ValueError(f"the kernel has {w.shape[1]} input channels but the image has {channels}: they must match")
    if min(w.shape) < 1:
        raise ValueError(f"the kernel must not be empty, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("the kernel holds NaN or infinite values: every cell must be a finite number")
    return w


def conv2d(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int | str = 0, dilation: int = 1) -> np.ndarray:
    """(K, H_out, W_out) cross-correlation of a (C, H, W) input with (K, C, kh, kw) kernels, zero padded."""
    x = _as_chw(x)
    w = _as_kernel(w, x.shape[0])
    xp = pad_input(x, w.shape, stride, padding, dilation)
    n_out, _, kh, kw = w.shape
    h_out, w_out = output_length(xp.shape[1], kh, stride, 0, dilation), output_length(xp.shape[2], kw, stride, 0, dilation)
    out = np.zeros((n_out, h_out, w_out))
    # One pass per kernel tap, each over the whole image: ~20× faster than multiplying gathered windows.
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation, j * dilation
            taken = xp[:, top : top + stride * (h_out - 1) + 1 : stride, left : left + stride * (w_out - 1) + 1 : stride]
            out += np.tensordot(w[:, :, i, j], taken, axes=1)  # (K, C) · (C, H_out, W_out)
    return out


def pool2d(x: np.ndarray, kind: str, size: int, stride: int | None = None) -> np.ndarray:
    """(C, H_out, W_out) max or average of each size×size window, as max_pool2d / avg_pool2d without padding."""
    if kind not in POOL_KINDS:
        raise ValueError(f"unknown pooling {kind!r}; expected one of {', '.join(POOL_KINDS)}")
    x = _as_chw(x)
    _check_positive("pool size", size)
    stride = size if stride is None else stride
    _check_positive("pool stride", stride)
    if size > min(x.shape[1:]):
        raise ValueError(f"the {size}×{size} pool window is larger than the {x.shape[1]}×{x.shape[2]} input: "
                         "use a smaller pool size")
    win = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]  # (C, H_out, W_out, size, size)
    return win.max(axis=(3, 4)) if kind == "max" else win.mean(axis=(3, 4))


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0), element-wise."""
    return np.maximum(x, 0.0)


@dataclass(frozen=True)
class ConvStep:
    """The arithmetic behind one output value of conv2d."""

    row: int  # output row
    col: int  # output column
    rows: np.ndarray  # (kh,) rows of the padded input the kernel reads
    cols: np.ndarray  # (kw,) columns of the padded input the kernel reads
    window: np.ndarray  # (C, kh, kw) input values under the kernel
    products: np.ndarray  # (K, C, kh, kw) window × kernel, element by element
    channel_sums: np.ndarray  # (K, C) sum of the products of each input channel
    total: np.ndarray  # (K,) the output values: the sum of all products


def conv_step(x: np.ndarray, w: np.ndarray, row: int, col: int, stride: int = 1, padding: int | str = 0,
              dilation: int = 1) -> ConvStep:
    """The window, products and sums that make output position (row, col) of conv2d(x, w, …)."""
    x = _as_chw(x)
    w = _as_kernel(w, x.shape[0])
    xp = pad_input(x, w.shape, stride, padding, dilation)
    kh, kw = w.shape[2:]
    h_out, w_out = output_length(xp.shape[1], kh, stride, 0, dilation), output_length(xp.shape[2], kw, stride, 0, dilation)
    if not (0 <= row < h_out and 0 <= col < w_out):
        raise ValueError(f"output position ({row}, {col}) is outside the {h_out}×{w_out} output")
    rows = row * stride + dilation * np.arange(kh)
    cols = col * stride + dilation * np.arange(kw)
    window = xp[:, rows[:, None], cols[None, :]]  # (C, kh, kw)
    products = window[None] * w  # (K, C, kh, kw)
    channel_sums = products.sum(axis=(2, 3))
    return ConvStep(row, col, rows, cols, window, products, channel_sums, channel_sums.sum(axis=1))
