"""What a link's value may be: one of the widget's options, a number on its grid, a flag, a subset of names, or
a few whole numbers. Each parses the URL's text into the widget's value and a note, or raises a ValueError saying
what it expected."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


MAX_ECHO = 40  # characters of a user's value quoted back in a notice; the rest is cut


def quote(value: Any, most: int = MAX_ECHO) -> str:
    """A value from a link, as inline code for a notice: never rendered as markdown (a link, an image, a colour), one
    line, and at most `most` characters (a 5,000-character value is cut, with how long it was)."""
    text = "".join(c if c.isprintable() else " " for c in str(value))
    if len(text) > most:
        text = f"{text[:most]}… ({len(text):,} characters)"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"  # CommonMark strips one space each side; a code span renders nothing inside


def quote_list(values: list, most: int = 5) -> str:
    """Values from a link, each quoted, the first `most` named and the rest counted."""
    named = ", ".join(quote(v) for v in values[:most])
    return named + (f" and {len(values) - most} more" if len(values) > most else "")


@dataclass(frozen=True)
class Choice:
    options: tuple  # the widget's options; numbers match within a relative 1e-9
    nearest: bool = False  # numbers between the smallest and largest option snap to the nearest (in log scale if >0)

    def parse(self, text: str) -> tuple[Any, str]:
        number = _number(text)
        numeric = [o for o in self.options if not isinstance(o, (str, bool))]
        for option in self.options:
            if isinstance(option, str) and text == option:
                return option, ""
            if option in numeric and number is not None and math.isclose(number, option, rel_tol=1e-9, abs_tol=1e-12):
                return option, ""
        if self.nearest and numeric and number is not None and min(numeric) <= number <= max(numeric):
            log = min(numeric) > 0
            best = min(numeric, key=lambda o: abs(math.log(number / o)) if log else abs(number - o))
            return best, f"rounded to {format_value(best)}"
        raise ValueError(f"expected one of {', '.join(format_value(o) for o in self.options)}")


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    step: float = 1  # values snap to low + k·step
    integer: bool = True

    def parse(self, text: str) -> tuple[Any, str]:
        value = _number(text)
        if value is None or not math.isfinite(value):
            raise ValueError("expected a number")
        if not self.low <= value <= self.high:
            raise ValueError(f"out of range: from {format_value(self.low)} to {format_value(self.high)}")
        snapped = self.low + round((value - self.low) / self.step) * self.step
        snapped = int(round(snapped)) if self.integer else round(min(snapped, self.high), 10)
        note = "" if math.isclose(snapped, value, abs_tol=1e-12) else f"rounded to {format_value(snapped)}"
        return snapped, note


@dataclass(frozen=True)
class Flag:
    def parse(self, text: str) -> tuple[Any, str]:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE, ""
        raise ValueError("expected true or false")


@dataclass(frozen=True)
class Subset:
    options: tuple[str, ...]
    least: int = 2

    def parse(self, text: str) -> tuple[Any, str]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        unknown = [t for t in items if t not in self.options]
        if unknown:
            raise ValueError(f"unknown {quote(','.join(unknown))}; expected some of {', '.join(self.options)}")
        if len(set(items)) != len(items) or len(items) < self.least:
            raise ValueError(f"expected at least {self.least} different names, separated by commas")
        return items, ""


@dataclass(frozen=True)
class Counts:
    low: int
    high: int
    most: int  # how many numbers at most

    def parse(self, text: str) -> tuple[Any, str]:
        numbers = [_number(t) for t in text.split(",")]
        if not 1 <= len(numbers) <= self.most or any(n is None or not n.is_integer() for n in numbers):
            raise ValueError(f"expected 1 to {self.most} whole numbers separated by commas")
        if any(not self.low <= n <= self.high for n in numbers):
            raise ValueError(f"each must be from {self.low} to {self.high}")
        return tuple(int(n) for n in numbers), ""


def _number(text: str) -> float | None:
    """A finite number, or None (`inf`, `nan` and `1e999` are not numbers a widget can take)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def format_value(value: Any) -> str:
    """A value as the URL spells it: true/false, 0.001, 1e-05, circle,square."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= 1e6 else str(int(value))
    return str(value)
