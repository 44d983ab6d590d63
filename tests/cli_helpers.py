"""Run `python -m cnn_core …` as a user would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnn_core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
