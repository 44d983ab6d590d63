"""Command-line options made from the config dataclasses, and --config files: the CLI re-declares no setting.

Each field becomes one option with the field's name, type, choices (the class's CHOICES), default and
help (its comment); a --config file's values come first and the flags given override them
(nanoGPT's configurator, with types checked by the config itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import typing
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 10 * 2**20  # a --config or --arch JSON file: a run's configuration is a few kilobytes


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def input_file(path: Path) -> Path:
    """The path, if it is an existing regular file (a pipe or device could be read forever); ValueError if not."""
    try:
        info = Path(path).stat()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL byte in the name
        raise ValueError(f"cannot read {str(path)[:80]!r}: not a file name") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file (a folder, pipe or device)")
    return Path(path)


def output_file(path: Path | None) -> Path | None:
    """The path to write, checked before any work: it may not exist yet, but may not be a folder or a pipe."""
    if path is None:
        return None
    try:
        info = Path(path).stat()
    except FileNotFoundError:
        return path
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot write {str(path)[:80]}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode) or stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        raise ValueError(f"cannot write {path}: it is a folder, pipe or socket, not a file")
    return path


def read_text_file(path: Path) -> str:
    """A small text file (a regular one, of at most MAX_JSON_BYTES, UTF-8); ValueError saying what is wrong."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a pipe opens at once instead of waiting for a writer
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ValueError(f"{path} is not a regular file (a folder, pipe or device)")
            data = f.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"{path} is larger than {MAX_JSON_BYTES // 2**20} MB: it is not a configuration file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (UTF-8 JSON)") from None


def read_json_file(path: Path):
    """The JSON value in a small text file; ValueError saying what is wrong."""
    try:
        return json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path} nests its JSON too deeply to read") from None


def _option_type(hint: Any) -> Any:
    """The argparse type of a field's annotation: X for `X | None`, a comma list for a tuple of text."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return comma_list
    return _option_type(args[0]) if args else hint


def add_config_options(p: argparse.ArgumentParser, cls, prefix: str, rename: dict[str, str] | None = None,
                       defaults: dict[str, Any] | None = None, skip: tuple[str, ...] = ()) -> None:  # fmt: skip
    """One option per field of the config dataclass `cls`: its name, type, choices, default and help (its comment).

    Options left out don't appear in the namespace (their default is SUPPRESS), so that `config_from_args`
    can tell a flag given on the command line from a default, and let the flag override a --config file.
    """
    hints, helps = typing.get_type_hints(cls), cls.field_help()
    group = p.add_argument_group(f"{cls.__name__} (the --config file's {SECTIONS[cls.__name__]} section, then these flags)")
    for f in dataclasses.fields(cls):
        if f.name in skip:  # set by the program, not typed by hand (e.g. a dataset's digest)
            continue
        default = (defaults or {}).get(f.name, f.default)
        text = helps[f.name] + ("" if default in (None, ()) else f" (default: {default})")
        kwargs: dict[str, Any] = dict(dest=prefix + f.name, default=argparse.SUPPRESS, help=text.replace("%", "%%"))
        kind = _option_type(hints[f.name])
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=kind, choices=cls.CHOICES.get(f.name),
                          metavar=None if f.name in cls.CHOICES else METAVARS.get(kind, "X"))  # fmt: skip
        group.add_argument("--" + (rename or {}).get(f.name, f.name).replace("_", "-"), **kwargs)


def given_flags(cls, args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """The fields of `cls` given as flags on the command line (left-out options are absent)."""
    return {f.name: getattr(args, prefix + f.name) for f in dataclasses.fields(cls) if hasattr(args, prefix + f.name)}


def config_from_args(cls, args: argparse.Namespace, prefix: str, base: dict[str, Any]):
    """The config: `base` (the class defaults overridden by a --config file), then the flags given."""
    return cls.from_dict({**base, **given_flags(cls, args, prefix)})


METAVARS = {int: "N", float: "X", str: "TEXT", comma_list: "A,B,..."}
SECTIONS = {"DataConfig": "data_config", "TrainConfig": "train_config"}  # config class → its part of a run's JSON


def read_config_file(path: Path | None, flat: str) -> dict[str, Any]:
    """A --config file as {section: dict}: the Training page's downloaded JSON (data_config, spec, train_config,
    …), or one flat object, read as the `flat` section."""
    if path is None:
        return {}
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    sections = {*SECTIONS.values(), "spec"}
    if not sections & set(data):
        return {flat: data}
    for name in sections & set(data):
        if not isinstance(data[name], dict):
            raise ValueError(f"{path}: {name} must be a JSON object, got {type(data[name]).__name__}")
    return data
