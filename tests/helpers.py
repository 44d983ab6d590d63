"""Run the app and the CLI as a user would: a page through AppTest, `python -m cnn_core …` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnn_core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def open_page(page: str, timeout: float = 60, **state):
    """Run one page file with AppTest, after putting `state` into its session."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()
