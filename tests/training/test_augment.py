"""Augmentation: each image its own transform, with the right ranges, from the run's own generator."""

import math

import pytest
import torch

from cnn_core.training.augment import crop_box, make_augment, transform
from cnn_core.training.config import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_state_untouched")
N = 200


def bar_images(n=N, size=33):
    """A horizontal bar through the centre of an otherwise black grey image."""
    images = torch.zeros(n, 1, size, size)
    images[:, :, size // 2, 4:-4] = 1.0
    return images


def orientation(image) -> float:
    """The angle in degrees of the image's principal axis (counter-clockwise, as the image is shown)."""
    mass = image[0]
    ys, xs = torch.meshgrid(torch.arange(mass.shape[0]).float(), torch.arange(mass.shape[1]).float(), indexing="ij")
    total = mass.sum()
    mx, my = (mass * xs).sum() / total, (mass * ys).sum() / total
    cxx = (mass * (xs - mx) ** 2).sum() / total
    cyy = (mass * (ys - my) ** 2).sum() / total
    cxy = (mass * (xs - mx) * (ys - my)).sum() / total
    return -math.degrees(0.5 * math.atan2(2 * cxy, cxx - cyy))  # y grows downwards on screen


def augment(cfg, images, seed=0):
    return make_augment(cfg, tuple(images.shape[1:]), torch.Generator().manual_seed(seed))(images)


def test_no_augmentation_gives_no_function():
    assert make_augment(TrainConfig(), (3, 16, 16), torch.Generator()) is None


def test_rotation_turns_each_image_by_its_own_angle_within_the_limit():
    out = augment(TrainConfig(rotation=30.0), bar_images())
    angles = torch.tensor([orientation(o) for o in out])
    assert angles.abs().max() <= 30 + 2  # nearest-neighbour resampling blurs the estimate by a degree or so
    assert angles.min() < -20 and angles.max() > 20  # the whole range is used, both ways
    assert angles.std() == pytest.approx(30 / math.sqrt(3), rel=0.2)  # uniform on [-30, 30]
    noise = torch.rand(1, 1, 33, 33).expand(N, 1, 33, 33)  # the same detailed image N times
    distinct = {tuple(o.flatten().tolist()) for o in augment(TrainConfig(rotation=30.0), noise)}
    assert len(distinct) > 0.75 * N  # each image its own angle (near angles can resample alike); groups of 4: at most N/4


@pytest.mark.parametrize("draw, degrees", [(1.0, -30.0), (0.75, -15.0), (0.5, 0.0), (0.0, 30.0)])
def test_a_draw_maps_to_its_angle(draw, degrees):
    """Draws 0 to 1 give angles -30° to 30°, which torchvision's affine turns clockwise."""
    u = [0.9, draw] + [0.5] * 9
    out = transform(bar_images(1)[0], u, TrainConfig(rotation=30.0), (1, 33, 33))
    assert orientation(out) == pytest.approx(degrees, abs=1.5)


def test_horizontal_flip_mirrors_about_half_the_images_independently():
    images = torch.rand(N, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    out = augment(TrainConfig(hflip=True), images)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    assert all(f or torch.equal(o, i) for f, o, i in zip(flipped, out, images))
    assert 70 <= sum(flipped) <= 130  # Binomial(200, 1/2): mean 100, sd 7
    changes = sum(a != b for a, b in zip(flipped, flipped[1:]))
    assert 70 <= changes <= 130  # independent neighbours differ half the time; groups of 4 would give ~50


def test_translation_shifts_each_image_by_at_most_its_share():
    images = torch.zeros(N, 1, 21, 21)
    images[:, :, 10, 10] = 1.0  # one bright pixel in the middle
    out = augment(TrainConfig(translate=0.2), images)
    shifts = set()
    for o in out:
        y, x = divmod(int(o.flatten().argmax()), 21)
        assert abs(x - 10) <= round(0.2 * 21) and abs(y - 10) <= round(0.2 * 21)
        shifts.add((x - 10, y - 10))
    assert len(shifts) > 40  # 9 × 9 possible shifts, each image drawing its own


def test_crop_boxes_keep_their_share_of_the_area_and_stay_inside():
    g = torch.Generator().manual_seed(2)
    for u in torch.rand(500, 4, generator=g).tolist():
        top, left, h, w = crop_box(u, 0.5, 32, 24)
        assert 0 <= top <= 32 - h and 0 <= left <= 24 - w
        assert 0.5 * 0.85 <= h * w / (32 * 24) <= 1.0  # rounding and clipping to the image cost a little


def test_colour_jitter_scales_each_images_brightness_within_the_range():
    images = torch.full((N, 1, 4, 4), 0.5)
    factors = augment(TrainConfig(color_jitter=0.4), images)[:, 0, 0, 0] / 0.5  # flat images: contrast does nothing
    assert factors.min() >= 0.6 - 1e-6 and factors.max() <= 1.4 + 1e-6 and factors.std() > 0.15
    rgb = augment(TrainConfig(color_jitter=0.3), torch.rand(5, 3, 8, 8))
    assert rgb.shape == (5, 3, 8, 8) and rgb.min() >= 0 and rgb.max() <= 1


def test_every_transform_at_once_keeps_the_shape_and_changes_the_images():
    images = torch.rand(12, 3, 16, 16)
    cfg = TrainConfig(rotation=30.0, translate=0.2, crop_scale=0.5, color_jitter=0.3, hflip=True)
    out = augment(cfg, images)
    assert out.shape == images.shape and all(not torch.equal(o, i) for o, i in zip(out, images))


def test_the_run_generator_alone_decides_the_draws():
    cfg = TrainConfig(rotation=20.0, hflip=True, crop_scale=0.7)
    images = torch.rand(16, 3, 16, 16)
    state = torch.get_rng_state()
    a, b, c = augment(cfg, images, seed=5), augment(cfg, images, seed=5), augment(cfg, images, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)  # torch's global stream was not touched
