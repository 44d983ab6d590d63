"""A dataset's settings: `DataConfig`, the choices and defaults of each source, and its validation."""

from __future__ import annotations

import dataclasses
import re
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
DIGITS_PER_CLASS = 183  # the most scans of any one digit in scikit-learn's set
MAX_BYTES = 256 * 2**20  # the largest dataset we build: a shared app server has 1 to 2.7 GB
DIGEST = re.compile(r"[0-9a-f]{32}")  # a folder dataset's image set, by content (cnn_core.data.image_store)



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
    digest: str = ""  # folder: the content digest of the image set in the server's store (cnn_core.data.image_store)

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
    if not isinstance(cfg.digest, str) or not DIGEST.fullmatch(cfg.digest):
        raise ValueError("a folder dataset needs the digest of its images (32 hexadecimal digits): "
                         "read them with cnn_core.data.folders and keep them with cnn_core.data.image_store.put")
    for name in cfg.classes:
        if not isinstance(name, str) or not name:
            raise ValueError(f"class names must be non-empty text, got {name!r}")
