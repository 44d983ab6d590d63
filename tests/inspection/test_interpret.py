import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cnn_core.conv.images import centred_box
from cnn_core.inspection.interpret import (
    conv_blocks,
    conv_filters,
    feature_maps,
    filter_patches,
    grad_cam,
    prepare_image,
    saliency,
)
from cnn_core.nets.build import build_model
from cnn_core.nets.presets import network
from cnn_core.nets.shapes import infer_shapes
from tests.eval_helpers import blob_image, region_model, trained_run


def _peak(values: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(values.argmax(), values.shape))


def _png(array: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format=fmt)
    return buf.getvalue()


# ---------------------------------------------------------------- Grad-CAM and saliency


@pytest.mark.parametrize("layer", [0, 1])
def test_grad_cam_peaks_on_the_region_that_decides_the_class(layer):
    _, model = region_model()
    image = blob_image(red_at=(3, 3), green_at=(12, 12))  # red decides class 1, green class 0
    cam = grad_cam(model, image, 1, layer)
    assert cam.shape == (16, 16)
    assert cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    row, col = _peak(cam)
    assert row < 8 and col < 8  # the top-left quadrant, where the red disc is
    assert cam[8:, 8:].max() == 0  # the green disc adds nothing to class 1
    row, col = _peak(grad_cam(model, image, 0, layer))
    assert row >= 8 and col >= 8  # class 0 looks at the green disc


def test_grad_cam_follows_the_deciding_region_when_it_moves():
    _, model = region_model()
    row, col = _peak(grad_cam(model, blob_image(red_at=(12, 3), green_at=(3, 12)), 1, 1))
    assert row >= 8 and col < 8


def test_grad_cam_before_global_pooling_equals_the_class_activation_map():
    _, model = region_model()
    image = blob_image(red_at=(4, 9), green_at=(11, 5))
    x = torch.from_numpy(image)[None]
    acts = F.relu(F.conv2d(x, model[0].weight, model[0].bias, padding=1))[0]  # (2, 16, 16)
    for target in (0, 1):
        cam = (model[4].weight[target][:, None, None] * acts).sum(0).clamp(min=0)  # CAM (Zhou et al., 2016)
        np.testing.assert_allclose(grad_cam(model, image, target, 1), (cam / cam.max()).detach().numpy(), atol=1e-6)


def test_grad_cam_of_a_trained_model_is_at_input_resolution_for_every_conv_layer():
    run = trained_run()
    model = run.build()
    image = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    for layer in conv_blocks(run.spec) + [i for i, lay in enumerate(run.spec.layers) if lay.type == "conv2d"]:
        cam = grad_cam(model, image, 3, layer)
        assert cam.shape == (8, 8)
        assert 0 <= cam.min() and cam.max() <= 1
    assert all(p.grad is None for p in model.parameters())  # explaining does not touch the weights' gradients


def test_grad_cam_refuses_a_flat_layer_a_missing_layer_and_a_missing_class():
    _, model = region_model()
    image = blob_image()
    with pytest.raises(ValueError, match="image-shaped"):
        grad_cam(model, image, 1, 4)
    with pytest.raises(ValueError, match="no layer 9; expected an index from 0 to 4"):
        grad_cam(model, image, 1, 9)
    with pytest.raises(ValueError, match="class 2 does not exist"):
        grad_cam(model, image, 2, 0)


def test_saliency_marks_exactly_the_pixels_that_move_the_score():
    _, model = region_model()
    image = blob_image(red_at=(3, 3), green_at=(12, 12))
    sal = saliency(model, image, 1)
    assert sal.shape == (16, 16) and sal.max() == pytest.approx(1.0)
    # Class 1's score reads the red channel through a 1-pixel kernel, only where the ReLU is open: the red disc.
    np.testing.assert_array_equal(sal > 0, image[0] > 0)


# ---------------------------------------------------------------- feature maps and filters


@pytest.mark.parametrize("name,input", [("simple_cnn", (3, 32, 32)), ("digits_small", (1, 8, 8)),
                                        ("lenet5", (1, 32, 32)), ("simple_cnn_stride2", (3, 32, 32))])  # fmt: skip
def test_feature_map_shapes_follow_the_shape_calculator(name, input):
    spec = network(name, input, 4)
    torch.manual_seed(0)
    model = build_model(spec).eval()
    blocks = conv_blocks(spec)
    assert len(blocks) == sum(lay.type == "conv2d" for lay in spec.layers)
    image = np.random.default_rng(1).random(input, dtype=np.float32)
    maps = feature_maps(model, image, blocks)
    expected = infer_shapes(spec)
    assert [m.shape for m in maps] == [expected[i] for i in blocks]
    with torch.no_grad():
        np.testing.assert_allclose(maps[-1], model[: blocks[-1] + 1](torch.from_numpy(image)[None])[0].numpy(), atol=1e-5)


def test_a_conv_block_ends_after_its_batch_norm_and_activation():
    assert conv_blocks(network("simple_cnn"))[:2] == [2, 7]  # conv, bn, relu | pool, dropout, conv, bn, relu
    assert conv_blocks(network("lenet5", (1, 32, 32))) == [1, 4]  # conv, tanh
    assert conv_blocks(network("tinyvgg")) == [1, 3, 6, 8]


def test_filters_are_the_conv_weights_and_non_conv_layers_have_none():
    run = trained_run()
    model = run.build()
    np.testing.assert_array_equal(conv_filters(model, 4), model[4].weight.detach().numpy())
    assert conv_filters(model, "conv1").shape == (16, 1, 3, 3)
    with pytest.raises(ValueError, match="not a conv layer"):
        conv_filters(model, 2)


def test_rgb_patches_show_zero_as_grey_and_each_filters_largest_weight_at_the_end_of_the_range():
    weights = np.zeros((2, 3, 3, 3), np.float32)
    weights[0, 0, 1, 1] = 2.0  # a red centre
    weights[1, 2, 0, 0] = -0.5  # a negative blue corner
    patches = filter_patches(weights)
    assert patches.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(patches[0, 1, 1], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(patches[1, 0, 0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(patches[0, 0, 0], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="3 input channels"):
        filter_patches(np.zeros((4, 1, 3, 3)))


# ---------------------------------------------------------------- uploaded images


def test_an_image_of_the_models_size_and_mode_is_read_unchanged():
    pixels = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    image, notices = prepare_image(_png(pixels), (3, 32, 32))
    assert notices == []
    np.testing.assert_allclose(image, pixels.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_a_colour_image_of_another_shape_is_cropped_to_its_centre_resized_and_turned_grey_with_notices():
    pixels = np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    image, notices = prepare_image(_png(pixels, fmt="JPEG"), (1, 8, 8))
    assert image.shape == (1, 8, 8) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    assert any("colour to grey" in n for n in notices)
    assert any("cropped to its centre (40×40 of its 60×40 pixels" in n and "resized to 8×8" in n for n in notices)
    grey = np.asarray(Image.open(io.BytesIO(_png(pixels, fmt="JPEG"))).convert("L"))
    reference = Image.fromarray(grey[:, 10:50]).resize((8, 8), Image.Resampling.BILINEAR)  # the middle 40 columns
    np.testing.assert_allclose(image[0], np.asarray(reference) / 255.0, atol=1e-7)


def test_a_circle_in_a_landscape_photo_stays_a_circle():
    y, x = np.mgrid[:480, :640]
    disc = ((x - 320) ** 2 + (y - 240) ** 2 < 200**2).astype(np.uint8) * 255  # 400 px across, in a 640×480 photo
    image, notices = prepare_image(_png(disc), (1, 32, 32))
    inside = image[0] > 0.5
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    assert abs((rows[-1] - rows[0]) - (cols[-1] - cols[0])) <= 1  # as tall as wide (squeezed: 27 wide, 27·¾ tall)
    assert abs((cols[-1] - cols[0] + 1) - 32 * 400 / 480) <= 1.5  # 400 of the 480 kept pixels across
    assert any("cropped to its centre (480×480 of its 640×480" in n for n in notices)


def test_a_portrait_photo_loses_its_top_and_bottom_to_the_models_proportions():
    assert centred_box((480, 640), (32, 32)) == (0, 80, 480, 560)
    assert centred_box((100, 100), (32, 32)) == (0, 0, 100, 100)
    assert centred_box((101, 50), (1, 1)) == (25, 0, 75, 50)
    assert centred_box((90, 40), (2, 1)) == (5, 0, 85, 40)  # a wide model's proportions, not only squares


def test_a_grey_image_becomes_three_equal_channels_and_transparency_becomes_black():
    grey, notices = prepare_image(_png(np.full((16, 16), 200, np.uint8)), (3, 16, 16))
    assert any("grey to colour" in n for n in notices)
    np.testing.assert_allclose(grey, 200 / 255, atol=1e-6)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere, but only the left half opaque
    rgba[:, :8, 3] = 255
    image, notices = prepare_image(_png(rgba, "RGBA"), (3, 16, 16))
    assert any("transparent" in n for n in notices)
    np.testing.assert_allclose(image[0, :, :8], 1.0)
    np.testing.assert_allclose(image[:, :, 8:], 0.0)


def test_invert_turns_dark_ink_on_white_into_light_on_black():
    image, notices = prepare_image(_png(np.full((8, 8), 255, np.uint8)), (1, 8, 8), invert=True)
    np.testing.assert_allclose(image, 0.0)
    assert any("inverted" in n for n in notices)


def test_a_file_that_is_not_an_image_or_is_cut_short_is_refused():
    with pytest.raises(ValueError, match="not an image"):
        prepare_image(b"name,value\n1,2\n", (3, 32, 32))
    with pytest.raises(ValueError, match="damaged or incomplete"):
        prepare_image(_png(np.zeros((64, 64, 3), np.uint8) + 7)[:80], (3, 32, 32))


def test_the_decompression_bomb_guard_stays_on(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    for side in (11, 20):  # above the limit (Pillow warns) and above twice it (Pillow refuses)
        with pytest.raises(ValueError, match="too large to open safely"):
            prepare_image(_png(np.zeros((side, side), np.uint8)), (1, 8, 8))


def test_a_model_that_reads_neither_grey_nor_colour_cannot_take_an_image():
    with pytest.raises(ValueError, match="2-channel"):
        prepare_image(_png(np.zeros((8, 8), np.uint8)), (2, 8, 8))
