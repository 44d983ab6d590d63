"""Data augmentation: every image its own random transform, drawn from the run's own generator.

torchvision's transforms v2 draw their parameters from torch's global random stream and use one draw
per call (per batch). Here each image gets its own parameters from a `torch.Generator` that belongs
to the run, drawn as v2's RandomHorizontalFlip, RandomAffine, RandomResizedCrop and ColorJitter draw
them, and torchvision's functional ops do the pixel work. Imports torch lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable

DRAWS = 11  # uniform numbers drawn per image: flip, angle, shift x/y, crop area/ratio/top/left, 3 jitters
RATIO = (3 / 4, 4 / 3)  # RandomResizedCrop's default range of aspect ratios


def make_augment(cfg, input_shape: tuple[int, int, int], generator) -> Callable | None:
    """A function (B, C, H, W) → (B, C, H, W) applying the TrainConfig's augmentation; None if it has none."""
    from cnn_core.training.config import augmented

    if not augmented(cfg):
        return None
    import torch

    def augment(images):
        draws = torch.rand(len(images), DRAWS, generator=generator).tolist()
        return torch.stack([transform(image, u, cfg, input_shape) for image, u in zip(images, draws)])

    return augment


def transform(image, u: list[float], cfg, input_shape: tuple[int, int, int]):
    """One image (C, H, W) through the config's transforms, with parameters from the uniform draws `u`."""
    from torchvision.transforms.v2 import functional as F

    channels, height, width = input_shape
    if cfg.hflip and u[0] < 0.5:
        image = F.horizontal_flip(image)
    if cfg.rotation or cfg.translate:
        angle = (2 * u[1] - 1) * cfg.rotation
        shift = [round((2 * u[2] - 1) * cfg.translate * width), round((2 * u[3] - 1) * cfg.translate * height)]
        image = F.affine(image, angle=angle, translate=shift, scale=1.0, shear=[0.0, 0.0])
    if cfg.crop_scale < 1:
        top, left, h, w = crop_box(u[4:8], cfg.crop_scale, height, width)
        image = F.resized_crop(image, top, left, h, w, [height, width], antialias=True)
    if cfg.color_jitter:
        brightness, contrast, saturation = (1 + (2 * v - 1) * cfg.color_jitter for v in u[8:11])
        image = F.adjust_contrast(F.adjust_brightness(image, brightness), contrast)
        if channels == 3:  # grey images have no saturation
            image = F.adjust_saturation(image, saturation)
    return image


def crop_box(u: list[float], min_area: float, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop with a random share of the area in [min_area, 1] and a random aspect ratio."""
    area = height * width * (min_area + (1 - min_area) * u[0])
    ratio = math.exp(math.log(RATIO[0]) + (math.log(RATIO[1]) - math.log(RATIO[0])) * u[1])
    w = min(width, max(1, round(math.sqrt(area * ratio))))
    h = min(height, max(1, round(math.sqrt(area / ratio))))
    return int(u[2] * (height - h + 1)), int(u[3] * (width - w + 1)), h, w
