"""The server's store of learners' own image sets, by content digest, bounded, least recently used out.

`$CNN_LAB_CACHE_DIR/images/<digest>.npz` (beside the model cache) holds one ImageSet's uint8 pixels,
labels and class names, written atomically. Training workers rebuild a "folder" dataset from here
with nothing but its DataConfig. Only a digest opens a set, and a digest is a hash of every pixel:
the app hands a set only to the session that uploaded it (ui.state), never lists the store.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from cnn_core.data.config import DIGEST
from cnn_core.data.image_set import ImageSet
from cnn_core.settings import default_dir

MAX_STORE_BYTES = 2 * 2**30  # the whole store; older sets are removed to stay under it


class MissingImages(ValueError):
    """The images a folder dataset needs are not in the store (or not this session's): upload them again."""

    def __init__(self, digest: str, classes: tuple[str, ...]):
        self.digest, self.classes = digest, tuple(classes)
        super().__init__(
            f"it was made from your own images ({len(self.classes)} classes: {', '.join(self.classes)}; digest "
            f"{digest[:12]}…), which are not here: bring the same images again (a zip or folder of class folders)"
        )


def store_dir() -> Path:
    return default_dir() / "images"


def _path(digest: str) -> Path:
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"{digest!r} is not an image-set digest (32 hexadecimal digits)")
    return store_dir() / f"{digest}.npz"


def put(images: ImageSet) -> str:
    """Keep an image set under its digest (once); returns the digest."""
    digest = images.digest
    path = _path(digest)
    if path.exists():
        os.utime(path)  # recently used
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, images=images.images, labels=images.labels, classes=np.array(images.classes))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _evict(keep=path)
    return digest


def has(digest: str) -> bool:
    return _path(digest).exists()


def get(digest: str, classes: tuple[str, ...] = ()) -> ImageSet:
    """The image set with this digest; MissingImages if the store doesn't hold it."""
    path = _path(digest)
    try:
        with np.load(path, allow_pickle=False) as f:
            found = ImageSet(tuple(str(c) for c in f["classes"]), f["images"], f["labels"])
        os.utime(path)
    except FileNotFoundError:
        raise MissingImages(digest, classes) from None
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)  # damaged: drop it, the learner uploads again
        raise MissingImages(digest, classes) from None
    return found


def _evict(keep: Path) -> None:
    """Remove the least recently used sets until the store fits MAX_STORE_BYTES."""
    files = sorted(store_dir().glob("*.npz"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    for p in files:
        if total <= MAX_STORE_BYTES:
            break
        if p != keep:
            total -= p.stat().st_size
            p.unlink(missing_ok=True)
