"""JSON round-trip and a stable hash for the frozen config dataclasses."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from typing import Any, TypeVar

T = TypeVar("T", bound="JsonConfig")


def _tupled(value: Any) -> Any:
    """Lists (as JSON gives them) back to tuples, so the config stays hashable."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


class JsonConfig:
    """Mixin for frozen dataclasses: `to_dict`/`from_dict`, `to_json`/`from_json` and `key()`."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"unknown {cls.__name__} field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(names))}"
            )
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for name, value in data.items():
            is_tuple = "tuple" in str(hints.get(name, "")).lower()
            kwargs[name] = _tupled(value) if is_tuple else value
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON for {cls.__name__}: {exc}") from None
        return cls.from_dict(data)

    def key(self) -> str:
        """A short, stable hash of the config: equal configs give equal keys across runs."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
