"""The dataset's options shared by `train`, `experiment` and `sweep`, and the folder route (--path)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from cnn_core.cli.options import add_config_options, given_flags

PATH_HELP = "with --dataset folder: a folder or zip of class folders (cats/…, dogs/…), one class per folder"


def data_config(args: argparse.Namespace, base: dict[str, Any]):
    """The DataConfig from `base` and the flags; with --dataset folder --path P, P's images go into the image
    store (where make_dataset and training workers find them) and the config names them by digest."""
    from cnn_core.data.config import DataConfig

    settings = {**base, **given_flags(DataConfig, args, "data.")}
    folder = settings.get("dataset") == "folder"
    if args.path is None:
        if folder and not settings.get("digest"):
            raise ValueError("--dataset folder needs --path DIR_OR_ZIP: a folder or zip of class folders")
        return DataConfig.from_dict(settings)
    if not folder:
        raise ValueError("--path goes with --dataset folder")
    if settings.get("classes"):
        raise ValueError("--classes does not apply to --dataset folder: its classes are the folders of --path")
    import atexit

    from cnn_core.data import image_store
    from cnn_core.data.folders import read_path
    from cnn_core.data.image_set import folder_config

    images = read_path(args.path)
    for notice in images.notices():
        print(f"note: {notice}", file=sys.stderr)
    image_store.put(images)  # StoreUnavailable (a ValueError: exit 2, one line) if the disk refuses
    atexit.register(image_store.release, image_store.hold(images.digest))  # this command's runs need them
    kept = ("n_per_class", "size", "noise", "image_mode", "val_fraction", "test_fraction", "seed")
    return folder_config(images, **{k: v for k, v in settings.items() if k in kept and v is not None})


def add_data_options(p: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """DataConfig's options beside TrainConfig's: shared names take a data- prefix (--data-seed); and --path."""
    from cnn_core.data.config import DataConfig
    from cnn_core.training.config import TrainConfig

    shared = {f.name for f in dataclasses.fields(DataConfig)} & {f.name for f in dataclasses.fields(TrainConfig)}
    add_config_options(p, DataConfig, "data.", rename={name: f"data_{name}" for name in shared}, defaults=defaults,
                       skip=("digest",))  # fmt: skip
    p.add_argument("--path", type=Path, help=PATH_HELP)
