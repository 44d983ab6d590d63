"""Data augmentation on whole batches with torchvision's transforms v2 (imports torch lazily)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GROUP = 4  # v2 draws one set of random parameters per call: each group of 4 images gets its own draw


def _import_v2():
    """torchvision.transforms.v2, even where torchvision's compiled ops fail to load.

    A torchvision wheel built for another torch (e.g. the CUDA wheel beside a CPU torch) can't load
    its C++ ops, and its import then fails while registering fake kernels for `nms`. The transforms
    we use don't need those ops, so we declare the two schemas it registers against and go on.
    """
    import torch

    try:
        from torchvision.transforms import v2
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
        import sys

        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _KEEP.append(lib)  # the schemas live as long as the Library object
        from torchvision.transforms import v2
    return v2


_KEEP: list[Any] = []


def make_augment(cfg, input_shape: tuple[int, int, int]) -> Callable | None:
    """A function (B, C, H, W) → (B, C, H, W) applying the TrainConfig's augmentation; None if it has none."""
    v2 = _import_v2()
    steps = []
    if cfg.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.rotation or cfg.translate:
        shift = (cfg.translate, cfg.translate) if cfg.translate else None
        steps.append(v2.RandomAffine(degrees=cfg.rotation, translate=shift))
    if cfg.crop_scale < 1:
        steps.append(v2.RandomResizedCrop(size=input_shape[1:], scale=(cfg.crop_scale, 1.0), antialias=True))
    if cfg.color_jitter:
        saturation = cfg.color_jitter if input_shape[0] == 3 else 0  # grey images have no saturation
        steps.append(v2.ColorJitter(brightness=cfg.color_jitter, contrast=cfg.color_jitter, saturation=saturation))
    if not steps:
        return None
    transform = v2.Compose(steps)

    def augment(images):
        import torch

        return torch.cat([transform(group) for group in images.split(GROUP)])

    return augment
