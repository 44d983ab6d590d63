"""Synthetic shapes with difficulty knobs: each class a shape, drawn with jitter, rotation, colour and clutter."""

from __future__ import annotations

import numpy as np

from cnn_core.data.config import ORIENTED, ORIENTED_MAX_ROTATION, SHAPE_CLASSES, DataConfig

# RGB of each shape in "per_class" colour mode: the colour alone gives the class away.
SHAPE_COLOURS = {
    "circle": (1.0, 0.0, 0.0),
    "square": (0.0, 1.0, 0.0),
    "diagonal": (0.0, 0.0, 1.0),
    "ring": (1.0, 0.5, 0.0),
    "triangle": (1.0, 1.0, 0.0),
    "cross": (1.0, 0.0, 1.0),
    "hstripes": (0.0, 1.0, 1.0),
    "vstripes": (0.6, 0.3, 1.0),
}


def _shape_mask(name: str, u: np.ndarray, v: np.ndarray, size: int) -> np.ndarray:
    """Where a shape is, in its own frame: u to the right, v down, pixels from the centre."""
    r2 = u * u + v * v
    if name == "circle":
        return r2 <= (size // 4) ** 2
    if name == "square":
        s = size // 4
        return (u >= -s) & (u < s) & (v >= -s) & (v < s)
    if name == "diagonal":
        return np.abs(u - v) <= max(2, size // 16)
    if name == "ring":
        return (r2 >= (size // 5) ** 2) & (r2 <= (size // 3) ** 2)
    if name == "triangle":
        a = size // 4
        return (v >= -a) & (v <= a) & (np.abs(u) <= (v + a) / 2)
    if name == "cross":
        a, w = size // 3, max(1, size // 16)
        return ((np.abs(u) <= w) & (np.abs(v) <= a)) | ((np.abs(v) <= w) & (np.abs(u) <= a))
    half_period = max(2, size // 8)
    if name == "hstripes":
        return np.floor(v / half_period) % 2 == 0
    if name == "vstripes":
        return np.floor(u / half_period) % 2 == 0
    raise ValueError(f"unknown shape class {name!r}; expected one of {', '.join(SHAPE_CLASSES)}")


def _random_hues(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) fully saturated colours of uniformly random hue."""
    h = rng.uniform(0.0, 6.0, n)[:, None]
    rgb = np.concatenate([np.abs(h - 3) - 1, 2 - np.abs(h - 2), 2 - np.abs(h - 4)], axis=1)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def _shape_frame(cfg: DataConfig, rng: np.random.Generator, n: int, rotation: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in each image's shape frame (shifted, rotated, scaled): (n, S, S) each."""
    size = cfg.size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if not (cfg.position_jitter or cfg.scale_jitter or cfg.rotation):
        return (xx - size // 2)[None], (yy - size // 2)[None]  # every image alike: (1, S, S)
    shift = cfg.position_jitter * size
    dx = rng.uniform(-shift, shift, n) if shift else np.zeros(n)
    dy = rng.uniform(-shift, shift, n) if shift else np.zeros(n)
    scale = rng.uniform(1 - cfg.scale_jitter, 1 + cfg.scale_jitter, n) if cfg.scale_jitter else np.ones(n)
    theta = np.deg2rad(rng.uniform(-rotation, rotation, n)) if cfg.rotation else np.zeros(n)
    col = lambda a: a.astype(np.float32)[:, None, None]  # noqa: E731 - (n,) → (n, 1, 1)
    u = xx - (size // 2 + col(dx))
    v = yy - (size // 2 + col(dy))
    cos, sin, scale = col(np.cos(theta)), col(np.sin(theta)), col(scale)
    return (cos * u + sin * v) / scale, (cos * v - sin * u) / scale


def make_shapes(cfg: DataConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, size = cfg.n_per_class, cfg.size
    images = np.zeros((n * len(cfg.classes), 3, size, size), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    blob_r2 = max(1, size // 12) ** 2
    for label, name in enumerate(cfg.classes):
        block = images[label * n : (label + 1) * n]  # (n, 3, S, S), a view
        for _ in range(cfg.clutter):
            cx, cy = rng.uniform(0, size, (2, n)).astype(np.float32)[:, :, None, None]
            blob = ((xx - cx) ** 2 + (yy - cy) ** 2 <= blob_r2)[:, None]  # (n, 1, S, S)
            np.copyto(block, _random_hues(rng, n)[:, :, None, None], where=blob)
        rotation = min(cfg.rotation, ORIENTED_MAX_ROTATION) if name in ORIENTED else cfg.rotation
        u, v = _shape_frame(cfg, rng, n, rotation)
        mask = _shape_mask(name, u, v, size)[:, None]  # (n or 1, 1, S, S)
        if cfg.color_mode == "per_class":
            colour = np.array(SHAPE_COLOURS[name], dtype=np.float32)[None, :, None, None]
        else:
            colour = _random_hues(rng, n)[:, :, None, None]
        np.copyto(block, colour, where=mask)
    labels = np.repeat(np.arange(len(cfg.classes), dtype=np.int64), n)
    return images, labels
