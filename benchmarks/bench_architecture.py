"""Architecture page speed: the calculator on a 30-layer spec, and the page's rerun with AppTest.

Run from the repository root: python benchmarks/bench_architecture.py
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from streamlit.testing.v1 import AppTest  # noqa: E402

from benchmarks._timing import median_ms  # noqa: E402
from cnn_core.nets.blocks import BlockDesign  # noqa: E402
from cnn_core.nets.codegen import generate_code  # noqa: E402
from cnn_core.nets.summary import summarize  # noqa: E402

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "architecture.py")



def main() -> None:
    design = BlockDesign(5, (16, 32, 64, 128, 256), dropout=0.25, downsample_last=True, head_pool=0)
    spec = design.to_spec((3, 64, 64), 10)
    n = len(spec.layers)
    assert summarize(spec).ok
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print(f"calculator, {n}-layer spec: {median_ms(lambda: summarize(spec), 500):.2f} ms (median of 500)")
    print(f"code generation, {n}-layer spec: {median_ms(lambda: generate_code(spec), 200):.2f} ms (median of 200)")

    at = AppTest.from_file(PAGE, default_timeout=60).run()  # first run builds the dataset (cached afterwards)
    print(f"page rerun, no change: {median_ms(at.run, 20):.0f} ms (median of 20)")
    state = {"on": True}

    def toggle_batch_norm():
        state["on"] = not state["on"]
        at.sidebar.checkbox(key="arch_batch_norm").set_value(state["on"]).run()

    print(f"page rerun, batch norm toggled: {median_ms(toggle_batch_norm, 20):.0f} ms (median of 20)")
    at.sidebar.radio(key="arch_mode").set_value("layers").run()
    print(f"page rerun, layer-table mode: {median_ms(at.run, 20):.0f} ms (median of 20)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
