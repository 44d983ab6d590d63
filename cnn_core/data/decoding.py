"""Decoding one image file of a learner's own images: turned upright (EXIF), put on white where it is transparent,
cropped to a centred square and resized to STORE_SIDE × STORE_SIDE RGB; and what decoding it would cost, read from
its header alone (folders.py checks the total before decoding any)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps

from cnn_core.conv import images as conv_images
from cnn_core.conv.images import TooLarge, centred_box, open_image
from cnn_core.data.image_set import STORE_SIDE

MAX_FILE_BYTES = 30 * 2**20  # one image file
MB = 2**20


def decode(data: bytes, changed: Counter, originals: Counter | None = None) -> np.ndarray:
    """One image file → (STORE_SIDE, STORE_SIDE, 3) uint8; ValueError saying why it can't be used."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // MB} MB")
    with _opened(data) as (im, size):
        try:
            if originals is not None:
                originals[(im.mode, *size)] += 1
            if getattr(im, "n_frames", 1) > 1:
                changed["animated: only the first frame was used"] += 1
            im.seek(0)
            upright = ImageOps.exif_transpose(im)
            if upright is not im and im.getexif().get(0x0112, 1) != 1:
                changed["turned upright by their EXIF orientation"] += 1
            rgb = _to_rgb(upright, changed)
        except Exception:  # noqa: BLE001 - a crafted file can make any decoder fail: skip it, keep the server up
            raise ValueError("damaged or truncated") from None
    box = centred_box(rgb.size, (1, 1))
    if box != (0, 0, *rgb.size):
        changed["cropped to a centred square"] += 1
    square = rgb.resize((STORE_SIDE, STORE_SIDE), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
    return np.asarray(square, dtype=np.uint8)


@contextmanager
def _opened(data: bytes):
    """open_image with the short reasons a skipped file is listed under (one reason per kind, not per file)."""
    try:
        with open_image(data, draft=(STORE_SIDE, STORE_SIDE)) as opened:  # JPEGs decode at a reduced scale
            yield opened
    except TooLarge:
        raise ValueError(f"more than {conv_images.MAX_PIXELS // 1_000_000} megapixels") from None
    except ValueError as exc:
        raise ValueError("not an image" if "not an image" in str(exc) else "damaged or truncated") from None


def decode_cost(data: bytes) -> int:
    """The pixels decoding this file would take, read from its header only (0 if it won't be decoded)."""
    if len(data) > MAX_FILE_BYTES:
        return 0
    try:
        with _opened(data) as (im, _):
            return im.size[0] * im.size[1]
    except ValueError:
        return 0


def _to_rgb(im: Image.Image, changed: Counter) -> Image.Image:
    """Any mode as RGB; transparent parts go on white, 16-bit and float grey are scaled to 8 bits."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = a.max() if a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8), "L")
        changed["with 16-bit or float pixels scaled to 8 bits"] += 1
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            changed["with transparency put on a white background"] += 1
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")
