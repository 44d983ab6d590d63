"""Datasets: synthetic shapes with difficulty knobs, scikit-learn's handwritten digits, and your own images.

About 350 lines: DataConfig with its validation, the three sources and the stratified split are one concept
(a dataset from its config); the images themselves live in folders.py, image_set.py and image_store.py.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass

import numpy as np

from cnn_core.jsonconfig import JsonConfig, check_fields

DATASETS = ("shapes", "digits", "folder")
SHAPE_CLASSES = ("circle", "square", "diagonal", "ring", "triangle", "cross", "hstripes", "vstripes")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
DEFAULT_CLASSES = {"shapes": SHAPE_CLASSES[:4], "digits": DIGIT_CLASSES, "folder": ()}
DEFAULT_SIZE = {"shapes": 32, "digits": 8, "folder": 32}
DEFAULT_NOISE = {"shapes": 0.1, "digits": 0.0, "folder": 0.0}
SIZE_RANGE = {"shapes": (16, 128), "digits": (8, 128), "folder": (16, 128)}
COLOR_MODES = ("per_class", "random")
IMAGE_MODES = ("colour", "grey")
DEFAULT_IMAGE_MODE = {"shapes": "colour", "digits": "grey", "folder": "colour"}
TWO_CLASSES = "choose at least two classes: a classifier needs something to tell apart"
ORIENTED = ("diagonal", "hstripes", "vstripes")  # classes that are a direction: turning them far changes the class
ORIENTED_MAX_ROTATION = 30.0  # degrees either way: a diagonal stays diagonal, stripes don't swap

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
DIGITS_PER_CLASS = 183  # the most scans of any one digit in scikit-learn's set
MAX_BYTES = 256 * 2**20  # the largest dataset we build: a shared app server has 1 to 2.7 GB


@dataclass(frozen=True)
class DataConfig(JsonConfig):
    CHOICES = {"dataset": DATASETS, "color_mode": COLOR_MODES, "image_mode": IMAGE_MODES}

    dataset: str = "shapes"  # "shapes" (synthetic), "digits" (scikit-learn's 8×8 scans) or "folder" (your images)
    classes: tuple[str, ...] = ()  # class names in label order; () means the dataset's defaults (folder: none)
    n_per_class: int = 250  # images per class (digits and folder: at most the ones that exist)
    size: int | None = None  # image height = width in pixels; None: 32 for shapes, 8 for digits
    noise: float | None = None  # std of Gaussian pixel noise, then clipped to [0, 1]; None: 0.1 shapes, 0 digits
    position_jitter: float = 0.0  # max shift of a shape's centre, as a fraction of the image size
    scale_jitter: float = 0.0  # max relative change of a shape's size (0.3: ×0.7 to ×1.3)
    rotation: float = 0.0  # max rotation of a shape, in degrees either way (diagonal, stripes: at most 30)
    color_mode: str = "per_class"  # "per_class": fixed colour per class; "random": a random hue per image
    clutter: int = 0  # distractor blobs per image, drawn under the shape
    val_fraction: float = 0.15  # share of each class held out for validation
    test_fraction: float = 0.15  # share of each class held out for the final test
    seed: int = 42  # one seed makes the images and the split
    image_mode: str | None = None  # "colour" (3 channels) or "grey" (1); None: colour, but grey for digits
    digest: str = ""  # folder: the content digest of the image set in the server's store (cnn_core.image_store)

    def __post_init__(self) -> None:
        check_fields(self)
        # Fill the dataset's defaults in place, so equal datasets have equal configs and keys.
        fill = {
            "classes": self.classes or DEFAULT_CLASSES[self.dataset],
            "size": DEFAULT_SIZE[self.dataset] if self.size is None else self.size,
            "noise": DEFAULT_NOISE[self.dataset] if self.noise is None else self.noise,
            "image_mode": self.image_mode or DEFAULT_IMAGE_MODE[self.dataset],
        }
        if self.dataset == "digits":
            fill["n_per_class"] = min(self.n_per_class, DIGITS_PER_CLASS)  # more than exist means all
        for name, value in fill.items():
            object.__setattr__(self, name, value)
        _validate(self)

    @property
    def channels(self) -> int:
        return 1 if self.image_mode == "grey" else 3


def default_values(dataset: str) -> dict:
    """Every DataConfig field's starting value for a dataset; a folder dataset has no classes until images come."""
    if dataset != "folder":
        return DataConfig(dataset=dataset).to_dict()
    values = {f.name: f.default for f in dataclasses.fields(DataConfig)}
    values.update(dataset="folder", size=DEFAULT_SIZE[dataset], noise=DEFAULT_NOISE[dataset],
                  image_mode=DEFAULT_IMAGE_MODE[dataset])  # fmt: skip
    return values


def _validate(cfg: DataConfig) -> None:
    if cfg.dataset == "folder":
        _validate_folder(cfg)
    else:
        known = SHAPE_CLASSES if cfg.dataset == "shapes" else DIGIT_CLASSES
        for name in cfg.classes:
            if name not in known:
                raise ValueError(f"unknown {cfg.dataset} class {name!r}; expected some of {', '.join(known)}")
        if cfg.image_mode != DEFAULT_IMAGE_MODE[cfg.dataset] or cfg.digest:
            raise ValueError(f"image mode and digest are for your own images (dataset 'folder'), not {cfg.dataset}")
    if len(set(cfg.classes)) != len(cfg.classes):
        raise ValueError("each class may be listed only once")
    if len(cfg.classes) < 2:
        raise ValueError(TWO_CLASSES)
    if cfg.n_per_class < 1:
        raise ValueError(f"images per class must be at least 1, got {cfg.n_per_class}")
    low, high = SIZE_RANGE[cfg.dataset]
    if not low <= cfg.size <= high:
        raise ValueError(f"image size {cfg.size} is out of range for {cfg.dataset}: use {low} to {high} pixels")
    if not np.isfinite(cfg.noise) or cfg.noise < 0:
        raise ValueError(f"noise must be a standard deviation of 0 or more, got {cfg.noise}")
    if not 0 <= cfg.position_jitter <= 0.5:
        raise ValueError(f"position jitter must be between 0 and 0.5 of the image, got {cfg.position_jitter}")
    if not 0 <= cfg.scale_jitter <= 0.5:
        raise ValueError(f"scale jitter must be between 0 and 0.5, got {cfg.scale_jitter}")
    if not 0 <= cfg.rotation <= 180:
        raise ValueError(f"rotation must be between 0 and 180 degrees, got {cfg.rotation}")
    if not 0 <= cfg.clutter <= 10:
        raise ValueError(f"clutter must be a whole number of distractors from 0 to 10, got {cfg.clutter}")
    for name in ("val_fraction", "test_fraction"):
        value = getattr(cfg, name)
        if not 0 <= value < 0.5:
            raise ValueError(f"{name.replace('_', ' ')} must be at least 0 and below 0.5, got {value}")
    bytes_needed = len(cfg.classes) * cfg.n_per_class * cfg.channels * cfg.size**2 * 4
    if bytes_needed > MAX_BYTES:
        raise ValueError(
            f"this dataset would take {bytes_needed / 2**20:.0f} MB (the limit is {MAX_BYTES // 2**20} MB): "
            "use fewer images per class or a smaller image size"
        )


def _validate_folder(cfg: DataConfig) -> None:
    from cnn_core.image_store import DIGEST

    if not isinstance(cfg.digest, str) or not DIGEST.fullmatch(cfg.digest):
        raise ValueError("a folder dataset needs the digest of its images (32 hexadecimal digits): "
                         "read them with cnn_core.folders and keep them with cnn_core.image_store.put")
    for name in cfg.classes:
        if not isinstance(name, str) or not name:
            raise ValueError(f"class names must be non-empty text, got {name!r}")


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
        images, labels = _make_shapes(config, rng)
    elif config.dataset == "digits":
        images, labels = _make_digits(config, rng)
    else:
        from cnn_core.image_set import to_arrays
        from cnn_core.image_store import get

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


# ---------------------------------------------------------------- shapes


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


def _make_shapes(cfg: DataConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
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


# ---------------------------------------------------------------- digits


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of bilinear resampling, as torch's interpolate(align_corners=False)."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = src - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), i0), 1 - w1)
    np.add.at(m, (np.arange(n_out), i1), w1)
    return m.astype(np.float32)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (..., H, W) images to (..., size, size)."""
    rows = resize_matrix(images.shape[-2], size)
    cols = resize_matrix(images.shape[-1], size)
    return (rows @ images @ cols.T).astype(np.float32)


def _make_digits(cfg: DataConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships its data: no download

    digits = load_digits()
    pixels = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    chosen, labels = [], []
    for label, name in enumerate(cfg.classes):
        idx = rng.permutation(np.flatnonzero(digits.target == int(name)))[: cfg.n_per_class]
        chosen.append(np.sort(idx))
        labels.append(np.full(len(idx), label, dtype=np.int64))
    images = pixels[np.concatenate(chosen)][:, None]  # (N, 1, 8, 8)
    if cfg.size != 8:
        images = resize_images(images, cfg.size)
    return np.ascontiguousarray(images, dtype=np.float32), np.concatenate(labels)

