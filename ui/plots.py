"""Plotly figures and image helpers used by several pages."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

# One colour per class index, the same on every page and chart. The first four follow the classic
# shapes' own colours (circle red, square green, diagonal blue, ring orange).
CLASS_PALETTE = (
    "#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
CHANNEL_COLOURS = {1: ("#444444",), 3: ("#d62728", "#2ca02c", "#1f77b4")}
CHANNEL_NAMES = {1: ("grey",), 3: ("red", "green", "blue")}


def class_colour(index: int) -> str:
    return CLASS_PALETTE[index % len(CLASS_PALETTE)]


def to_display(image: np.ndarray, scale: int = 1) -> np.ndarray:
    """A (C, H, W) image in [0, 1] as an (H, W[, 3]) uint8 array, enlarged by whole pixels."""
    arr = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    if scale > 1:
        arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
    return (arr * 255 + 0.5).astype(np.uint8)


TILE_MARGIN = 4  # transparent pixels around a tile: Streamlit rounds image corners by up to 13 px, and this
# margin keeps the rounding off the image itself (a corner pixel of an enlarged 8×8 digit is a whole cell)


def tile(image: np.ndarray, scale: int = 1) -> np.ndarray:
    """A (C, H, W) image for st.image: enlarged by whole pixels, RGBA with a transparent margin so that
    the rounded corners clip nothing of the image."""
    arr = to_display(image, scale)
    rgb = np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr
    h, w, _ = rgb.shape
    out = np.zeros((h + 2 * TILE_MARGIN, w + 2 * TILE_MARGIN, 4), dtype=np.uint8)
    out[TILE_MARGIN : TILE_MARGIN + h, TILE_MARGIN : TILE_MARGIN + w, :3] = rgb
    out[TILE_MARGIN : TILE_MARGIN + h, TILE_MARGIN : TILE_MARGIN + w, 3] = 255
    return out


def display_scale(size: int, target: int = 96) -> int:
    """The whole-pixel enlargement that shows a small image at about `target` pixels."""
    return max(1, target // size)


def compact(fig: go.Figure, height: int = 320, **layout) -> go.Figure:
    """Tight margins and a fixed height: the look every chart of the app shares."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), **layout)
    return fig


def png(array: np.ndarray) -> bytes:
    """An (H, W[, 3 or 4]) uint8 array as PNG bytes, for st.image (which then encodes nothing itself)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
