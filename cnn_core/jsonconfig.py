"""The mixin every frozen config dataclass shares: field checks, JSON round-trip, a stable hash, field help.

A config's fields say what they hold: `check_fields` enforces each field's annotated type (whole
numbers are accepted where a float is expected, never a bool where a number is) and the choices in
the class's `CHOICES` table, so a config built from JSON, the CLI or a page is as valid as one built
in code. Each config's `__post_init__` calls it first, then checks its ranges.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import numbers
import re
import types
import typing
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="JsonConfig")
MAX_SHOWN = 60  # characters of a value quoted back in an error message


def shown(value: Any) -> str:
    """A value for an error message: its repr, cut to MAX_SHOWN characters (a value from a file may be a megabyte,
    or nested a thousand lists deep, which repr itself can't print)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"a {type(value).__name__} nested too deeply to show"
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}… ({len(text):,} characters)"


class JsonConfig:
    """Mixin for frozen dataclasses: `to_dict`/`from_dict`, `to_json`/`from_json`, `key()` and `field_help()`."""

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}  # field name → its allowed values

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}; expected some of {', '.join(names)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON for {cls.__name__}: {exc}") from None
        except (RecursionError, ValueError) as exc:  # nested too deeply, or a number of thousands of digits
            raise ValueError(f"not valid JSON for {cls.__name__}: {_unreadable(exc)}") from None
        return cls.from_dict(data)

    def key(self) -> str:
        """A short, stable hash of the config: equal configs give equal keys across runs."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Each field's comment in the class source (`lr: float = 1e-3  # learning rate…` → 'learning rate…')."""
        pattern = re.compile(r"^\s+(\w+): [^#\n]*#\s*(.+)$", re.MULTILINE)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return {name: text.strip() for name, text in pattern.findall(inspect.getsource(cls)) if name in names}


def _unreadable(exc: Exception) -> str:
    """Why json.loads gave up on text that is JSON to the letter: too deep, or a number too long for Python."""
    return "it is nested too deeply" if isinstance(exc, RecursionError) else f"{str(exc)[:120]}"


def check_fields(config: JsonConfig) -> None:
    """ValueError naming the first field whose value has the wrong type or is not one of its CHOICES.

    Normalises in place what JSON and NumPy give: lists become tuples, whole numbers become floats
    where a float is expected, NumPy scalars become Python numbers (so the config stays hashable and
    its JSON and key stay stable).
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        ok, fixed = _conform(value, hints[f.name])
        if not ok:
            raise ValueError(f"{type(config).__name__}.{f.name} must be {describe_type(hints[f.name])}, got {shown(value)}")
        if fixed is not value:
            object.__setattr__(config, f.name, fixed)
        allowed = config.CHOICES.get(f.name)
        if allowed is not None and fixed is not None and fixed not in allowed:  # None: an optional field's default
            raise ValueError(f"unknown {f.name} {shown(fixed)}; expected one of {', '.join(allowed)}")


def _conform(value: Any, hint: Any) -> tuple[bool, Any]:
    """(whether `value` fits the type `hint`, the value in its canonical Python type)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            ok, fixed = _conform(value, arm)
            if ok:
                return True, fixed
        return False, value
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return False, value
        arms = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(arms) != len(value):
            return False, value
        items = [_conform(v, arm) for v, arm in zip(value, arms)]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if hint is type(None):
        return value is None, value
    if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype == bool):
        return hint is bool, bool(value) if hint is bool else value
    if hint is int:
        return isinstance(value, numbers.Integral), int(value) if isinstance(value, numbers.Integral) else value
    if hint is float:
        return isinstance(value, numbers.Real), float(value) if isinstance(value, numbers.Real) else value
    return isinstance(value, hint), value


def describe_type(hint: Any) -> str:
    """A type annotation in words: 'a whole number', 'a list of text values or null', …"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(arm) for arm in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_PLURAL.get(args[0], args[0].__name__)}"
        return f"a list of {len(args)} {_PLURAL.get(args[0], args[0].__name__)}"
    return _WORDS.get(hint, f"a {getattr(hint, '__name__', hint)}")


_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a text value", type(None): "null"}
_PLURAL = {int: "whole numbers", float: "numbers", str: "text values"}
