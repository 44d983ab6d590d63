"""A tiny example of your own images, drawn on the fly: smiling and frowning faces, as a zip of class folders.

It shows the layout a zip needs (`happy/…`, `sad/…`), with what real uploads bring: sizes that differ,
pictures that are not square, and a file that is not an image (skipped and counted).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("happy", "sad")
PER_CLASS = 24


def _face(rng: np.random.Generator, happy: bool) -> Image.Image:
    w, h = int(rng.integers(48, 97)), int(rng.integers(48, 97))
    paper = tuple(int(v) for v in rng.integers(200, 256, 3))
    ink = tuple(int(v) for v in rng.integers(0, 90, 3))
    im = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(im)
    side = min(w, h)
    r = side * rng.uniform(0.3, 0.42)
    cx, cy = w / 2 + rng.uniform(-0.08, 0.08) * side, h / 2 + rng.uniform(-0.08, 0.08) * side
    pen = max(2, int(side / 24))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=pen)
    for sx in (-1, 1):
        ex, ey, er = cx + sx * r * 0.38, cy - r * 0.3, max(1.5, r * 0.09)
        draw.ellipse((ex - er, ey - er, ex + er, ey + er), fill=ink)
    mw, mh = r * rng.uniform(0.45, 0.65), r * rng.uniform(0.25, 0.4)
    my = cy + r * 0.3
    if happy:  # the lower half of an ellipse: a smile
        draw.arc((cx - mw, my - mh, cx + mw, my + mh), 20, 160, fill=ink, width=pen)
    else:  # the upper half, lower down: a frown
        draw.arc((cx - mw, my, cx + mw, my + 2 * mh), 200, 340, fill=ink, width=pen)
    return im


def example_zip(seed: int = 0) -> bytes:
    """The example set as zip bytes: `faces/happy/…png`, `faces/sad/…png` and a README.txt."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("faces/README.txt", "One folder per class; every image inside a folder belongs to its class.\n")
        for name in CLASSES:
            for i in range(PER_CLASS):
                png = io.BytesIO()
                _face(rng, name == "happy").save(png, "PNG")
                zf.writestr(zipfile.ZipInfo(f"faces/{name}/{name}_{i:02d}.png", (2024, 1, 1, 0, 0, 0)), png.getvalue())
    return buf.getvalue()
