"""Images for the convolution playground: a built-in sample scene, uploads, and picking channels; and
`open_image`, the one way every upload path opens an image file: its size checked from the header first."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_SIDE = 128  # uploads are shrunk to at most this many pixels on the long side
CHANNEL_MODES = ("colour", "grey", "red", "green", "blue")
MAX_PIXELS = 25_000_000  # the most pixels an upload may decode to (a JPEG counts at the reduced scale it decodes at)


class TooLarge(ValueError):
    """An image whose header declares more pixels than an upload may decode to."""

    def __init__(self, pixels: int, size: tuple[int, int] | None = None):
        self.pixels, self.size = pixels, size
        amount = f"{pixels / 1e6:,.0f} megapixels" if pixels >= 10**6 else f"{pixels:,} pixels"
        dims = f"{size[0]:,}×{size[1]:,} pixels, " if size else ""
        super().__init__(f"the image is too large to open safely ({dims}{amount}; the limit is "
                         f"{MAX_PIXELS // 1_000_000} megapixels): upload a smaller one")  # fmt: skip


@contextmanager
def open_image(data: bytes, draft: tuple[int, int] | None = None) -> Iterator[tuple[Image.Image, tuple[int, int]]]:
    """The image in `data`, opened lazily with nothing decoded yet, and its size as its header declares it: checked
    against MAX_PIXELS before the caller decodes it (a PNG of a few hundred kilobytes may declare a gigabyte).

    `draft` (width, height) lets a JPEG decode at a reduced scale that is still at least that large (fast, little
    memory); the check counts the pixels it will decode. Whatever it decodes to, the header may declare at most
    Pillow's MAX_IMAGE_PIXELS (89 megapixels: its warning, made an error here).
    ValueError if the bytes are not an image (TooLarge if too large); errors while the caller decodes are the
    caller's to word."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # checked below, with our own limit
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ValueError("this file is not an image that can be read: use a PNG, JPEG, GIF, BMP, WebP or TIFF") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:  # Pillow gives only the count
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise TooLarge(int(found.group(1)) if found else Image.MAX_IMAGE_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValueError(f"the image file is damaged or incomplete ({str(exc)[:120]}): upload it again") from None
    with im:
        width, height = im.size
        if draft is not None:
            im.draft(None, draft)  # JPEG only: the scale it will decode at; nothing is decoded yet
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise TooLarge(width * height, (width, height))
        yield im, (width, height)


def centred_box(size: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest box of `shape`'s proportions (width, height) centred in an image of `size` (width, height), as
    PIL's (left, upper, right, lower): the part of a photo that a crop to those proportions keeps."""
    (big_w, big_h), (w, h) = size, shape
    if big_w * h >= big_h * w:  # wider than the shape: the sides go
        crop_w, crop_h = min(big_w, round(big_h * w / h)), big_h
    else:  # taller: the top and bottom go
        crop_w, crop_h = big_w, min(big_h, round(big_w * h / w))
    left, top = (big_w - crop_w) // 2, (big_h - crop_h) // 2
    return left, top, left + crop_w, top + crop_h


def sample_image(size: int = 64) -> np.ndarray:
    """(3, size, size) synthetic scene in [0, 1]: a square, a disc, a triangle and stripes on a soft gradient."""
    if not 16 <= size <= 512:
        raise ValueError(f"sample size must be 16 to 512 pixels, got {size}")
    yy, xx = np.mgrid[0:size, 0:size] / size  # coordinates in [0, 1)
    img = np.zeros((3, size, size))
    img[2] = 0.15 + 0.25 * yy  # a dark blue sky that brightens downwards
    square = (xx > 0.1) & (xx < 0.42) & (yy > 0.1) & (yy < 0.42)
    disc = (xx - 0.7) ** 2 + (yy - 0.27) ** 2 < 0.17**2
    triangle = (yy > 0.55) & (yy < 0.9) & (np.abs(xx - 0.27) < (yy - 0.55) / 2)
    stripes = (xx > 0.55) & (xx < 0.9) & (yy > 0.55) & (yy < 0.9) & ((xx + yy) * 8 % 1 < 0.5)
    for mask, rgb in ((square, (0.9, 0.15, 0.1)), (disc, (1.0, 0.85, 0.2)), (triangle, (0.95, 0.95, 0.95)),
                      (stripes, (0.2, 0.8, 0.3))):
        img[:, mask] = np.array(rgb)[:, None]
    return img.astype(np.float32)


def load_image(data: bytes, max_side: int = MAX_SIDE) -> tuple[np.ndarray, str | None]:
    """Decode PNG/JPEG bytes to (3, H, W) in [0, 1], shrunk to max_side; also a notice when it was shrunk."""
    with open_image(data, draft=(max_side, max_side)) as (im, original):  # a JPEG decodes at a reduced scale
        try:
            im.load()
            im = im.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"this image file is damaged or truncated ({exc}): upload another one") from None
        notice = None
        if max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        if max(original) > max_side:
            notice = (f"The image was {original[1]}×{original[0]} pixels (height × width); it was shrunk to "
                      f"{im.size[1]}×{im.size[0]} so that every number stays quick to compute and show.")
        pixels = np.asarray(im, dtype=np.float32) / 255.0  # (H, W, 3)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)), notice


def pick_channels(image: np.ndarray, mode: str) -> np.ndarray:
    """(C, H, W) image as "colour" (all channels) or one (1, H, W) channel: "grey", "red", "green" or "blue"."""
    if mode not in CHANNEL_MODES:
        raise ValueError(f"unknown channel choice {mode!r}; expected one of {', '.join(CHANNEL_MODES)}")
    if mode == "colour" or image.shape[0] == 1:
        return image
    if mode == "grey":
        weights = np.array([0.299, 0.587, 0.114], dtype=image.dtype)  # ITU-R 601 luma, as Pillow's "L"
        return np.tensordot(weights, image, axes=1)[None]
    return image[CHANNEL_MODES.index(mode) - 2][None]
