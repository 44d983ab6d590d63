"""What a dataset looks like in numbers: class means, pixel histograms and whether its split can train."""

from __future__ import annotations

import numpy as np

from cnn_core.data.dataset import ImageDataset

HISTOGRAM_BINS = 50


def class_means(ds: ImageDataset) -> np.ndarray:
    """(K, C, H, W) mean image of each class over the training split."""
    images, labels = ds.split("train")
    return np.stack([images[labels == k].mean(axis=0) for k in range(ds.num_classes)])


def pixel_histograms(ds: ImageDataset, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """(C, bins) counts of pixel values per channel over the whole dataset; bin b holds [b/bins, (b+1)/bins)."""
    q = np.minimum((ds.images * bins).astype(np.int64), bins - 1)
    return np.stack([np.bincount(q[:, c].ravel(), minlength=bins) for c in range(q.shape[1])])


def split_counts(ds: ImageDataset) -> dict[str, list[int]]:
    """Images of each class in each split: {"train": [n0, n1, …], "val": […], "test": […]}."""
    return {name: np.bincount(ds.labels[idx], minlength=ds.num_classes).tolist() for name, idx in ds.splits.items()}


def _fewest_images_for(fraction: float, other: float) -> int:
    """The fewest images per class that hold out at least one for a share `fraction` and still train."""
    for n in range(1, 10_000):
        held, also = int(round(n * fraction)), int(round(n * other))
        if held >= 1 and held + also < n:
            return n
    return 10_000


def split_warnings(ds: ImageDataset) -> list[str]:
    """Plain sentences for a split that leaves nothing to validate or test on although a share was asked for."""
    cfg, counts = ds.config, split_counts(ds)
    smallest = int(np.bincount(ds.labels, minlength=ds.num_classes).min())
    out = []
    for name, share, other, consequence in (
        ("val", cfg.val_fraction, cfg.test_fraction, "training needs validation images and will refuse to start"),
        ("test", cfg.test_fraction, cfg.val_fraction, "the Evaluation page will score on validation images instead"),
    ):
        if share > 0 and sum(counts[name]) == 0:
            label = "validation" if name == "val" else "test"
            need = _fewest_images_for(share, other)
            out.append(f"Too few images per class for the split: with {smallest:,} image(s) in the smallest class, a "
                       f"{label} share of {share:.0%} rounds to 0 images, so {consequence}. Use at least {need:,} "
                       f"images per class, or a larger {label} share.")  # fmt: skip
    return out
