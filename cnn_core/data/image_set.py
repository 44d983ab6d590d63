"""An image set: a learner's own images, decoded to STORE_SIDE² RGB, with its digest and the dataset it makes."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from PIL import Image

from cnn_core.data.config import DataConfig
from cnn_core.words import count

STORE_SIDE = 128  # stored images are STORE_SIDE² RGB: the largest size a dataset may ask for


@dataclass
class ImageSet:
    """Decoded images of named classes, canonically ordered, with what reading them skipped or changed."""

    classes: tuple[str, ...]
    images: np.ndarray  # (N, STORE_SIDE, STORE_SIDE, 3) uint8
    labels: np.ndarray  # (N,) int64
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason → file names
    changed: Counter = field(default_factory=Counter)  # what was done → how many images
    originals: Counter = field(default_factory=Counter)  # (Pillow mode, width, height) as uploaded → how many

    @property
    def counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(self.classes)).tolist()

    @cached_property
    def digest(self) -> str:
        """A hash of the class names and every pixel: equal content, equal digest (the arrays are never changed)."""
        h = hashlib.sha256()
        for name in self.classes:
            h.update(name.encode() + b"\0")
        h.update(self.labels.astype("<i8").tobytes())
        h.update(np.ascontiguousarray(self.images).tobytes())
        return h.hexdigest()[:32]

    def notices(self) -> list[str]:
        """One plain sentence per kind of file skipped or image changed."""
        out = []
        for reason, names in self.skipped.items():
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            out.append(f"{count(len(names), 'file')} skipped ({reason}): {shown}")
        modes = Counter(mode for mode, _, _ in self.originals.elements())
        if len(modes) > 1:
            found = ", ".join(f"{m} ({n:,})" for m, n in sorted(modes.items()))
            out.append(f"the images came in {len(modes)} pixel formats, {found}: all were converted to RGB")
        sizes = {(w, h) for _, w, h in self.originals}
        if len(sizes) > 1:
            by_area = sorted(sizes, key=lambda s: s[0] * s[1])
            out.append(f"the images came in {len(sizes):,} sizes, from {by_area[0][0]}×{by_area[0][1]} to "
                       f"{by_area[-1][0]}×{by_area[-1][1]} pixels: all were made {STORE_SIDE}×{STORE_SIDE}")
        for change, n in sorted(self.changed.items()):
            out.append(f"{count(n, 'image')} {change}")
        return out


def folder_config(images: ImageSet, **settings):
    """The DataConfig of a dataset made of these images (their digest and classes) and `settings`;
    n_per_class defaults to all of each class's images."""
    settings.setdefault("n_per_class", max(images.counts))
    return DataConfig(dataset="folder", classes=images.classes, digest=images.digest, **settings)


def to_arrays(images: ImageSet, config: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N, C, size, size) float32 in [0, 1] and labels: the first n_per_class of each class, resized with
    antialiasing, grey by ITU-R 601 luma (Pillow's "L") when the config asks for grey."""
    if tuple(images.classes) != tuple(config.classes):
        raise ValueError(f"the stored images have classes {', '.join(images.classes)}, "
                         f"not {', '.join(config.classes)}")
    keep = np.concatenate([np.flatnonzero(images.labels == k)[: config.n_per_class]
                           for k in range(len(images.classes))])  # fmt: skip
    grey, size = config.image_mode == "grey", config.size
    out = np.empty((len(keep), 1 if grey else 3, size, size), dtype=np.float32)
    for j, i in enumerate(keep):
        im = Image.fromarray(images.images[i])
        if grey:
            im = im.convert("L")
        if size != STORE_SIDE:
            im = im.resize((size, size), Image.Resampling.BILINEAR)  # Pillow widens the filter when shrinking
        pixels = np.asarray(im, dtype=np.float32)
        out[j] = pixels[None] if grey else pixels.transpose(2, 0, 1)
    out /= 255.0
    return out, images.labels[keep].astype(np.int64)
