"""How fast datasets generate, and how fast the Dataset page reruns. Prints the figures in docs/performance.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._timing import median_seconds, page_rerun_seconds  # noqa: E402
from cnn_core.data.config import SHAPE_CLASSES, DataConfig  # noqa: E402
from cnn_core.data.dataset import make_dataset

CASES = {
    "10,000 shapes, 32×32, default knobs": DataConfig(n_per_class=2500),
    "10,000 shapes, 32×32, 8 classes, every difficulty knob on": DataConfig(
        classes=SHAPE_CLASSES, n_per_class=1250, position_jitter=0.2, scale_jitter=0.3, rotation=45,
        color_mode="random", clutter=3),
    "1,000 shapes, 128×128": DataConfig(size=128),
    "digits, 1,797 × 8×8": DataConfig(dataset="digits"),
    "digits upscaled to 32×32": DataConfig(dataset="digits", size=32),
}  # fmt: skip

if __name__ == "__main__":
    make_dataset(DataConfig(dataset="digits"))  # import scikit-learn once, outside the timings
    for name, config in CASES.items():
        print(f"{name:60s} {median_seconds(lambda c=config: make_dataset(c)) * 1000:8.1f} ms")
    first, rerun = page_rerun_seconds("app_pages/dataset.py")
    print(f"{'Dataset page: first render (default shapes)':60s} {first * 1000:8.1f} ms")
    print(f"{'Dataset page: rerun (median)':60s} {rerun * 1000:8.1f} ms")
