"""A network as data: a frozen, JSON-round-tripping `ModelSpec`.

The layer types are in `layers.py`, the shape walk in `shapes.py`, checking a spec against a dataset and building
it with torch in `build.py`, the named networks in `presets.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnn_core.jsonconfig import JsonConfig, shown
from cnn_core.nets.layers import LayerSpec, SpecError, layer

SPEC_FIELDS = ("input", "num_classes", "layers")


def _is_count(value: Any, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


@dataclass(frozen=True)
class ModelSpec(JsonConfig):
    input: tuple[int, int, int] = (3, 32, 32)  # (channels, height, width) of one image
    num_classes: int = 4  # width of the last layer
    layers: tuple[LayerSpec, ...] = ()  # in order, from the image to the class scores

    def __post_init__(self) -> None:
        shape = tuple(self.input) if isinstance(self.input, (tuple, list)) else (self.input,)
        if len(shape) != 3 or not all(_is_count(v, 1) for v in shape):
            raise ValueError(f"input must be three positive whole numbers (C, H, W), got {shown(self.input)}")
        if not _is_count(self.num_classes, 2):
            raise ValueError(f"num_classes must be a whole number of at least 2, got {shown(self.num_classes)}")
        object.__setattr__(self, "input", shape)
        object.__setattr__(self, "layers", tuple(self.layers))

    def to_dict(self) -> dict[str, Any]:
        return {"input": list(self.input), "num_classes": self.num_classes,
                "layers": [lay.to_dict() for lay in self.layers]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        if not isinstance(data, dict):
            raise ValueError("a model spec must be a JSON object with input, num_classes and layers")
        unknown = sorted(map(str, set(data) - set(SPEC_FIELDS)))
        if unknown:
            raise ValueError(f"unknown spec field(s) {', '.join(unknown)[:80]}; expected {', '.join(SPEC_FIELDS)}")
        raw_layers = data.get("layers")
        if not isinstance(raw_layers, list):
            raise ValueError('a model spec needs "layers", a list of layer objects such as '
                             '[{"type": "flatten"}, {"type": "linear", "out_features": 4}]')  # fmt: skip
        layers = []
        for i, raw in enumerate(raw_layers):
            try:
                layers.append(LayerSpec.from_dict(raw))
            except ValueError as exc:
                named = raw.get("type") if isinstance(raw, dict) else None
                raise SpecError(i, str(exc), named[:40] if isinstance(named, str) else "?") from None
        return cls(data.get("input", [3, 32, 32]), data.get("num_classes", 4), tuple(layers))

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:  # type: ignore[override]
        """A spec from JSON text, with one plain message for empty text and for text that isn't JSON."""
        if not text.strip():
            raise ValueError("the spec is empty: give a JSON object with input, num_classes and layers")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"this is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise ValueError("the spec is nested too deeply to read: a spec is an object with a list of layers") from None
        except ValueError as exc:  # a number of thousands of digits
            raise ValueError(f"this JSON can't be read ({str(exc)[:120]})") from None
        return cls.from_dict(data)

    def to_json(self, indent: int | None = None) -> str:  # type: ignore[override]
        if indent is None:
            return super().to_json()
        return json.dumps(self.to_dict(), indent=indent)

    def with_io(self, input: tuple[int, int, int], num_classes: int) -> ModelSpec:
        """The same layers for another input shape and class count (the last linear layer follows)."""
        layers = list(self.layers)
        for i in range(len(layers) - 1, -1, -1):
            if layers[i].type == "linear":
                layers[i] = layer("linear", **{**layers[i].kwargs, "out_features": num_classes})
                break
        return ModelSpec(tuple(input), num_classes, tuple(layers))
