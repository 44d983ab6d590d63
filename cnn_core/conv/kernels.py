"""Named 2-D kernels for the convolution playground, and checking a kernel typed in by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_GAUSS_1D = np.array([1.0, 4.0, 6.0, 4.0, 1.0])

# name → (kernel, what it does in plain words); every kernel is a 2-D list of numbers.
_RAW = {
    "Horizontal edge": (np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
                        "bright below dark: positive; dark below bright: negative"),
    "Vertical edge": (np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]), "bright right of dark: positive; the reverse: negative"),
    "Box blur 3×3": (np.full((3, 3), 1 / 9), "the average of the 9 pixels: smooths noise and edges"),
    "Sharpen": (np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]), "the pixel minus its neighbours, plus itself: crisper edges"),
    "Sobel x": (np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]), "vertical edges, weighting the centre row more"),
    "Sobel y": (np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]), "horizontal edges, weighting the centre column more"),
    "Laplacian": (np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]), "edges in every direction: zero where the image is flat"),
    "Emboss": (np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]), "a relief lit from the top left"),
    "Identity": (np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]), "copies the input: a 1 in the middle, 0 elsewhere"),
    "Gaussian blur 5×5": (np.outer(_GAUSS_1D, _GAUSS_1D) / 256, "a weighted average, heavier in the middle: a soft blur"),
}
PRESETS = {name: (np.asarray(k, dtype=np.float64), what) for name, (k, what) in _RAW.items()}
MAX_KERNEL = 7  # the largest custom kernel: bigger ones are hard to read number by number


def preset(name: str) -> np.ndarray:
    """The (kh, kw) kernel of a preset name."""
    if name not in PRESETS:
        raise ValueError(f"unknown kernel {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name][0].copy()


def _cell(value: Any, row: int, col: int) -> float:
    where = f"row {row + 1}, column {col + 1}"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"the kernel cell at {where} is empty: type a number there")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"the kernel cell at {where} is {value!r}, not a number: type a number there") from None
    if math.isnan(number):
        raise ValueError(f"the kernel cell at {where} is empty (NaN): type a number there")
    if math.isinf(number):
        raise ValueError(f"the kernel cell at {where} is infinite: type a finite number there")
    return number


def parse_kernel(cells: Any) -> np.ndarray:
    """A square grid of cells (lists, array or DataFrame values) as a float (k, k) kernel, or a ValueError naming the bad cell."""
    grid = np.asarray(cells, dtype=object)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError("the kernel must be a square grid of numbers with at least one row and one column")
    if grid.shape[0] != grid.shape[1]:
        raise ValueError(f"the kernel must be square, got {grid.shape[0]} rows of {grid.shape[1]} cells")
    if grid.shape[0] > MAX_KERNEL:
        raise ValueError(f"the kernel is {grid.shape[0]}×{grid.shape[0]}; use at most {MAX_KERNEL}×{MAX_KERNEL}")
    return np.array([[_cell(v, i, j) for j, v in enumerate(row)] for i, row in enumerate(grid)])
