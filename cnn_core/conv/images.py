"""Images for the convolution playground: a built-in sample scene, uploads, and picking channels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_SIDE = 128  # uploads are shrunk to at most this many pixels on the long side
CHANNEL_MODES = ("colour", "grey", "red", "green", "blue")


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
    try:
        with Image.open(io.BytesIO(data)) as im:  # Pillow's decompression-bomb guard stays on
            original = im.size
            im.draft("RGB", (max_side, max_side))  # a JPEG decodes at a reduced scale: less memory for big photos
            im.load()
            im = im.convert("RGB")
            notice = None
            if max(original) > max_side:
                im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                notice = (f"The image was {original[1]}×{original[0]} pixels (height × width); it was shrunk to "
                          f"{im.size[1]}×{im.size[0]} so that every number stays quick to compute and show.")
            pixels = np.asarray(im, dtype=np.float32) / 255.0  # (H, W, 3)
    except UnidentifiedImageError:
        raise ValueError("this file is not an image Pillow can read: upload a PNG or JPEG") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"this image is far too large to open safely ({exc}): upload a smaller one") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"this image file is damaged or truncated ({exc}): upload another one") from None
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
