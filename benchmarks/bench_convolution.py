"""Time the Convolution page (AppTest reruns) and cnn_core.conv.ops.conv2d on a 128×128 image with a 5×5 kernel.

Run from the repository root: python benchmarks/bench_convolution.py [--reruns 15]
Prints medians: the machine is shared, so single timings are noisy.
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._timing import median_ms  # noqa: E402
from cnn_core.conv import ops  # noqa: E402
from cnn_core.conv.images import sample_image  # noqa: E402
from cnn_core.conv.kernels import preset  # noqa: E402

PAGE = str(ROOT / "app_pages" / "convolution.py")
TABS = ("Convolution", "Step by step", "Channels", "All kernels", "Pooling")



def png_128() -> bytes:
    buf = io.BytesIO()
    Image.fromarray((sample_image(128).transpose(1, 2, 0) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def page(channels: str) -> AppTest:
    """The page showing an uploaded 128×128 image with the 5×5 Gaussian kernel."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.session_state["conv_source"] = "Upload"
    at.run()
    at.sidebar.file_uploader[0].upload("scene.png", png_128(), "image/png")
    for key, value in dict(conv_kernel="Gaussian blur 5×5", conv_channels=channels, conv_padding=2).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception and "Output 128×128" in str(at.get("plotly_chart")[2].proto.spec)
    return at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=15, help="reruns per figure; the median is printed")
    args = parser.parse_args()
    image = sample_image(128)
    for c in (1, 3):
        w = np.broadcast_to(preset("Gaussian blur 5×5"), (1, c, 5, 5))
        x = image[:c]
        print(f"core conv2d {c}×128×128, 5×5, padding 2: {median_ms(lambda x=x, w=w: ops.conv2d(x, w, padding=2), 50):.2f} ms")
    print(f"core pool2d max 2×2 on 1×128×128: {median_ms(lambda: ops.pool2d(image[:1], 'max', 2), 50):.2f} ms")
    for channels in ("grey", "colour"):
        at = page(channels)
        for tab in TABS:
            at.session_state["conv_tab"] = tab
            at.run()
            warm = median_ms(at.run, args.reruns)

            def cold(at=at) -> None:
                st.cache_data.clear()
                at.run()

            print(f"page rerun, {channels}, tab {tab!r}: {warm:.0f} ms (caches cleared: "
                  f"{median_ms(cold, max(3, args.reruns // 3)):.0f} ms)")


if __name__ == "__main__":
    main()
