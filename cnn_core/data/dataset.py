"""A dataset from its config: synthetic shapes, scikit-learn's digits or your own images, with a stratified split.

The sources live beside it (synthetic.py, digits.py; your own images in folders.py, image_set.py, image_store.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from cnn_core.data.config import DataConfig
from cnn_core.data.digits import make_digits
from cnn_core.data.image_set import to_arrays
from cnn_core.data.image_store import get
from cnn_core.data.synthetic import make_shapes


@dataclass
class ImageDataset:
    """Images with labels, the config that made them and a stratified train/val/test split."""

    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64, indices into classes
    classes: tuple[str, ...]
    config: DataConfig
    splits: dict[str, np.ndarray]  # "train", "val", "test" → indices into images

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of one split: "train", "val" or "test"."""
        if name not in self.splits:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(self.splits)}")
        idx = self.splits[name]
        return self.images[idx], self.labels[idx]

    def to_npz(self) -> bytes:
        """The dataset as a compressed .npz file, with its split and config."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            images=self.images,
            labels=self.labels,
            classes=np.array(self.classes),
            train_idx=self.splits["train"],
            val_idx=self.splits["val"],
            test_idx=self.splits["test"],
            config=np.array(self.config.to_json()),
        )
        return buf.getvalue()


def make_dataset(config: DataConfig) -> ImageDataset:
    """Build the dataset a config describes; the same config always gives the same arrays."""
    rng = np.random.default_rng(config.seed)
    if config.dataset == "shapes":
        images, labels = make_shapes(config, rng)
    elif config.dataset == "digits":
        images, labels = make_digits(config, rng)
    else:
        images, labels = to_arrays(get(config.digest, config.classes), config)
    if config.noise > 0:
        _add_noise(images, config.noise, config.seed)
    np.clip(images, 0.0, 1.0, out=images)
    splits = stratified_split(labels, config.val_fraction, config.test_fraction, config.seed)
    return ImageDataset(images, labels, tuple(config.classes), config, splits)


def _add_noise(images: np.ndarray, sigma: float, seed: int, chunks: int = 8) -> None:
    """Add N(0, sigma²) noise in place, in fixed chunks on threads (NumPy's generators release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    flat = images.reshape(-1)
    bounds = np.linspace(0, flat.size, chunks + 1).astype(int)
    streams = np.random.SeedSequence([seed, 2]).spawn(chunks)

    def fill(i: int) -> None:
        part = flat[bounds[i] : bounds[i + 1]]
        noise = np.random.default_rng(streams[i]).standard_normal(part.size, dtype=np.float32)
        noise *= sigma
        part += noise

    with ThreadPoolExecutor(max_workers=min(chunks, 4)) as pool:
        list(pool.map(fill, range(chunks)))


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Per class, shuffle by seed and hold out rounded shares for validation and test."""
    rng = np.random.default_rng([seed, 1])
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(idx) * val_fraction))
        n_test = int(round(len(idx) * test_fraction))
        if n_val + n_test >= len(idx):
            raise ValueError(
                f"class {cls} has {len(idx)} images, too few to hold out {n_val} for validation and "
                f"{n_test} for test and still train: use more images per class or smaller fractions"
            )
        parts["val"].append(idx[:n_val])
        parts["test"].append(idx[n_val : n_val + n_test])
        parts["train"].append(idx[n_val + n_test :])
    return {name: np.sort(np.concatenate(p)).astype(np.int64) for name, p in parts.items()}
