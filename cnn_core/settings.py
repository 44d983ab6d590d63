"""Where the lab keeps what it stores on disk: one folder, `$CNN_LAB_CACHE_DIR` or ~/.cache/cnn-lab.

The run registry (cnn_core.runs) and the image store (cnn_core.data.image_store) both live under it.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CNN_LAB_CACHE_DIR"


def default_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "cnn-lab")
