"""Command-line options made from the config dataclasses, and --config files: the CLI re-declares no setting.

Each field becomes one option with the field's name, type, choices (the class's CHOICES), default and
help (its comment); a --config file's values come first and the flags given override them
(nanoGPT's configurator, with types checked by the config itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path
from typing import Any


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


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
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    sections = {*SECTIONS.values(), "spec"}
    if not sections & set(data):
        return {flat: data}
    for name in sections & set(data):
        if not isinstance(data[name], dict):
            raise ValueError(f"{path}: {name} must be a JSON object, got {type(data[name]).__name__}")
    return data
