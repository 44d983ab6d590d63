"""scikit-learn's 8×8 handwritten digits (shipped with it: no download), resized bilinearly as torch does."""

from __future__ import annotations

import numpy as np

from cnn_core.data.config import DataConfig


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of bilinear resampling, as torch's interpolate(align_corners=False)."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = src - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), i0), 1 - w1)
    np.add.at(m, (np.arange(n_out), i1), w1)
    return m.astype(np.float32)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (..., H, W) images to (..., size, size)."""
    rows = resize_matrix(images.shape[-2], size)
    cols = resize_matrix(images.shape[-1], size)
    return (rows @ images @ cols.T).astype(np.float32)


def make_digits(cfg: DataConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships its data: no download

    digits = load_digits()
    pixels = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    chosen, labels = [], []
    for label, name in enumerate(cfg.classes):
        idx = rng.permutation(np.flatnonzero(digits.target == int(name)))[: cfg.n_per_class]
        chosen.append(np.sort(idx))
        labels.append(np.full(len(idx), label, dtype=np.int64))
    images = pixels[np.concatenate(chosen)][:, None]  # (N, 1, 8, 8)
    if cfg.size != 8:
        images = resize_images(images, cfg.size)
    return np.ascontiguousarray(images, dtype=np.float32), np.concatenate(labels)
