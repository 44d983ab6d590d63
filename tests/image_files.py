"""Image files and zips made on the fly for the tests of your own images."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def picture(colour=RED, size=(40, 40), seed: int = 0, fmt: str = "PNG", mode: str = "RGB", **save) -> bytes:
    """A noisy picture of one main colour (different seeds: different pixels), encoded as `fmt`."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(pixels).convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def two_classes(n: int = 6) -> dict[str, list[tuple[str, bytes]]]:
    """Reds and blues, n of each, as class → (file name, bytes)."""
    return {"reds": [(f"r{i}.png", picture(RED, seed=i)) for i in range(n)],
            "blues": [(f"b{i}.jpg", picture(BLUE, seed=100 + i, fmt="JPEG")) for i in range(n)]}  # fmt: skip


def zip_of(files: dict[str, bytes]) -> bytes:
    """Path inside the zip → bytes, as one zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return buf.getvalue()


def layout(classes: dict[str, list[tuple[str, bytes]]], root: str = "") -> dict[str, bytes]:
    """The ImageFolder layout of class → files: {root/class/name: bytes}."""
    return {f"{root}{name}/{fname}": data for name, files in classes.items() for fname, data in files}
