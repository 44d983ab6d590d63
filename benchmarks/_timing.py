"""Small timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeat` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_ms(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    """The same median, in milliseconds."""
    return 1000 * median_seconds(fn, repeat, warmup)


def page_rerun_seconds(page: str, setup: Callable | None = None, repeat: int = 9) -> tuple[float, float]:
    """(first render, median rerun) of a page through the router, in seconds, with AppTest."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=300).run()
    start = time.perf_counter()
    at.switch_page(page).run()
    first = time.perf_counter() - start
    if setup:
        setup(at)
        at.run()
    assert not at.exception, at.exception
    return first, median_seconds(at.run, repeat=repeat)
