"""cnn_core.conv.ops, kernels and images checked against torch.nn.functional and by hand."""

import io
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cnn_core.conv import ops
from cnn_core.conv.images import load_image, pick_channels, sample_image
from cnn_core.conv.kernels import PRESETS, parse_kernel, preset

TOL = 1e-5
rng = np.random.default_rng(0)


def _torch(fn, x, *args, **kwargs):
    return fn(torch.from_numpy(np.asarray(x, dtype=np.float64))[None], *args, **kwargs)[0].numpy()


def _tw(w):
    return torch.from_numpy(np.asarray(w, dtype=np.float64))


GRID = [g for g in itertools.product((1, 3), (1, 2, 3, 4, 5), (1, 2, 3), (0, 1, 2, "same"), (1, 2))
        if not (g[3] == "same" and g[2] != 1)]  # torch allows "same" only at stride 1


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("channels,k,stride,padding,dilation", GRID)
def test_conv2d_matches_torch_over_a_grid_of_settings(channels, k, stride, padding, dilation):
    x = rng.standard_normal((channels, 11, 9))
    w = rng.standard_normal((2, channels, k, k))
    ours = ops.conv2d(x, w, stride, padding, dilation)
    ref = F.conv2d(torch.from_numpy(x)[None], _tw(w), stride=stride, padding=padding, dilation=dilation)[0].numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < TOL


def test_conv2d_matches_torch_in_float32_on_an_image():
    x = sample_image(32)
    w = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(w), padding=2)[0].numpy()
    assert np.abs(ops.conv2d(x, w, padding=2) - ref).max() < TOL


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_same_padding_matches_torch_for_even_kernels_padding_after():
    x = rng.standard_normal((1, 7, 8))
    w = rng.standard_normal((1, 1, 4, 2))
    ref = F.conv2d(torch.from_numpy(x)[None], _tw(w), padding="same")[0].numpy()
    out = ops.conv2d(x, w, padding="same")
    assert out.shape == (1, 7, 8)
    assert np.abs(out - ref).max() < TOL
    assert ops.same_padding(4) == (1, 2)


@pytest.mark.parametrize("n,k,s,p,d", itertools.product((5, 8, 13), (1, 2, 3, 5), (1, 2, 3), (0, 1, 3), (1, 2)))
def test_output_length_matches_torch_output_shapes(n, k, s, p, d):
    if ops.kernel_span(k, d) > n + 2 * p:
        with pytest.raises(RuntimeError):  # torch refuses a kernel larger than the padded input, as ours does
            F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
        with pytest.raises(ValueError, match="spans"):
            ops.conv2d(np.zeros((1, n, n)), np.zeros((1, 1, k, k)), stride=s, padding=p, dilation=d)
        return
    shape = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape
    assert ops.output_length(n, k, s, p, d) == shape[-1]


def test_stride_two_halves_the_output():
    assert ops.conv2d(np.ones((1, 16, 16)), np.ones((1, 1, 3, 3)), stride=2, padding=1).shape == (1, 8, 8)


@pytest.mark.parametrize("kind,size,stride", itertools.product(("max", "avg"), (1, 2, 3), (None, 1, 2, 3)))
def test_pool2d_matches_torch(kind, size, stride):
    x = rng.standard_normal((3, 10, 7))
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    ref = _torch(fn, x, size, stride)
    out = ops.pool2d(x, kind, size, stride)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < TOL


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, "same", 2), (3, 2, 2)])
def test_conv_step_sums_to_the_conv2d_output_at_every_position(stride, padding, dilation):
    x = rng.standard_normal((3, 9, 10))
    w = rng.standard_normal((2, 3, 3, 3))
    out = ops.conv2d(x, w, stride, padding, dilation)
    for r, c in itertools.product(range(out.shape[1]), range(out.shape[2])):
        step = ops.conv_step(x, w, r, c, stride, padding, dilation)
        assert np.abs(step.total - out[:, r, c]).max() < TOL
        assert np.allclose(step.channel_sums.sum(axis=1), step.total)
        assert np.allclose(step.products, step.window[None] * w)


def test_conv_step_window_reads_zeros_in_the_padding():
    step = ops.conv_step(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)), 0, 0, padding=1)
    assert step.window[0, 0].tolist() == [0, 0, 0] and step.total[0] == 4
    assert step.rows.tolist() == [0, 1, 2]


def test_conv_step_rejects_a_position_outside_the_output():
    with pytest.raises(ValueError, match="outside the 2×2 output"):
        ops.conv_step(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)), 2, 0)


@pytest.mark.parametrize("kwargs,message", [
    (dict(stride=0), "stride must be a whole number of at least 1"),
    (dict(dilation=0), "dilation must be a whole number of at least 1"),
    (dict(padding=-1), "padding must be a whole number of 0 or more"),
    (dict(padding="valid"), "padding must be a whole number or 'same'"),
    (dict(padding="same", stride=2), "'same' works only with stride 1"),
])
def test_conv2d_rejects_bad_settings_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ops.conv2d(np.ones((1, 8, 8)), np.ones((1, 1, 3, 3)), **kwargs)


def test_conv2d_rejects_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match="spans 7 pixels in height .* only 6"):
        ops.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 7, 7)), padding=1)
    with pytest.raises(ValueError, match="spans 5 pixels"):
        ops.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)), dilation=2)


def test_conv2d_rejects_mismatched_channels_and_nan_kernels():
    with pytest.raises(ValueError, match="3 input channels but the image has 1"):
        ops.conv2d(np.ones((1, 8, 8)), np.ones((1, 3, 3, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        ops.conv2d(np.ones((1, 8, 8)), np.full((1, 1, 3, 3), np.nan))


def test_pool2d_rejects_unknown_kinds_and_oversized_windows():
    with pytest.raises(ValueError, match="unknown pooling 'min'"):
        ops.pool2d(np.ones((1, 4, 4)), "min", 2)
    with pytest.raises(ValueError, match="larger than the 4×4 input"):
        ops.pool2d(np.ones((1, 4, 4)), "max", 5)
    with pytest.raises(ValueError, match="pool stride"):
        ops.pool2d(np.ones((1, 4, 4)), "max", 2, 0)


def test_relu_zeroes_negatives_only():
    assert ops.relu(np.array([-2.0, 0.0, 3.0])).tolist() == [0.0, 0.0, 3.0]


def test_identity_preset_copies_the_input():
    x = sample_image(32)
    out = ops.conv2d(x[:1], preset("Identity")[None, None], padding=1)
    assert np.abs(out - x[:1]).max() < TOL


def test_every_preset_is_square_and_finite_and_blurs_sum_to_one():
    for kernel, what in PRESETS.values():
        assert kernel.shape[0] == kernel.shape[1] and np.isfinite(kernel).all() and what
    assert preset("Gaussian blur 5×5").shape == (5, 5)
    assert abs(preset("Box blur 3×3").sum() - 1) < 1e-12 and abs(preset("Gaussian blur 5×5").sum() - 1) < 1e-12
    with pytest.raises(ValueError, match="unknown kernel 'Blur'"):
        preset("Blur")


@pytest.mark.parametrize("cell,message", [
    (None, "row 2, column 3 is empty"), (np.nan, r"empty \(NaN\)"), ("", "is empty"),
    ("abc", "'abc', not a number"), (np.inf, "infinite"), (-np.inf, "infinite"),
])
def test_parse_kernel_names_the_bad_cell(cell, message):
    grid = [[0, 0, 0], [0, 0, cell], [0, 0, 0]]
    with pytest.raises(ValueError, match=message):
        parse_kernel(grid)


def test_parse_kernel_accepts_numbers_and_numeric_text():
    assert parse_kernel([[1, "2.5"], [-3, 0]]).tolist() == [[1, 2.5], [-3, 0]]
    with pytest.raises(ValueError, match="square"):
        parse_kernel([[1, 2, 3], [4, 5, 6]])


def _png(size, mode="RGB"):
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, "PNG")
    return buf.getvalue()


def test_load_image_shrinks_large_images_with_a_notice():
    image, notice = load_image(_png((400, 200)))
    assert image.shape == (3, 64, 128) and "shrunk to 64×128" in notice
    small, none = load_image(_png((20, 10), "L"))
    assert small.shape == (3, 10, 20) and none is None and abs(small.max() - 128 / 255) < 1e-6


def test_load_image_rejects_files_that_are_not_images_and_bombs(monkeypatch):
    with pytest.raises(ValueError, match="not an image"):
        load_image(b"%PDF-1.4 not a picture")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 400×200 is then more than twice the limit
    with pytest.raises(ValueError, match="too large to open safely"):
        load_image(_png((400, 200)))


def test_pick_channels_gives_colour_or_one_channel():
    image = sample_image(16)
    assert pick_channels(image, "colour").shape == (3, 16, 16)
    assert np.array_equal(pick_channels(image, "green")[0], image[1])
    assert pick_channels(image, "grey").shape == (1, 16, 16)
    with pytest.raises(ValueError, match="unknown channel choice"):
        pick_channels(image, "alpha")


def test_pad_input_adds_the_rings_of_zeros_conv2d_reads():
    padded = ops.pad_input(np.ones((2, 3, 3)), (1, 2, 4, 2), padding="same")
    assert padded.shape == (2, 6, 4) and padded[:, 0].sum() == 0 and padded[:, -2:].sum() == 0
    assert ops.conv_paddings("same", 4, 2) == ((1, 2), (0, 1)) and ops.conv_paddings(2, 3, 3) == ((2, 2), (2, 2))
