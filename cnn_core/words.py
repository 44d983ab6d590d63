"""Counting in words: "1 run", "2 runs", never "1 runs" or "run(s)"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, plural unless n is 1: count(1, "run") == "1 run", count(1200, "image") == "1,200 images"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
