"""Time the Evaluation page with a trained SimpleCNN on the default shapes dataset.

Run from the repository root: `python benchmarks/bench_evaluation.py [--epochs 3]`. Prints the time of the
core calls, of the page's first render (evaluation, embedding, every chart) and of widget reruns.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from benchmarks._timing import median_seconds as timed  # noqa: E402
from cnn_core.data.config import DataConfig  # noqa: E402
from cnn_core.data.dataset import make_dataset  # noqa: E402
from cnn_core.inspection.evaluate import embed, evaluate  # noqa: E402
from cnn_core.inspection.interpret import conv_blocks, feature_maps, grad_cam  # noqa: E402
from tests.eval_helpers import trained_run  # noqa: E402 - trains with cnn_core.training.engine.fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    run = trained_run(DataConfig(), "simple_cnn", epochs=args.epochs)
    print(f"trained SimpleCNN on default shapes for {args.epochs} epochs in {time.perf_counter() - start:.1f} s "
          f"(val acc {run.summary['val_acc']:.1%})")  # fmt: skip
    ds, model = make_dataset(run.data_config), run.build()
    ev = evaluate(model, ds)
    image = ds.images[ev.indices[0]]
    print(f"evaluate ({len(ev.labels)} test images): {timed(lambda: evaluate(model, ds)) * 1000:.0f} ms")
    print(f"grad_cam at the last block: {timed(lambda: grad_cam(model, image, 0, conv_blocks(run.spec)[-1])) * 1000:.1f} ms")
    print(f"feature maps of 3 blocks: {timed(lambda: feature_maps(model, image, conv_blocks(run.spec))) * 1000:.1f} ms")
    print(f"PCA embedding: {timed(lambda: embed(ev.features, 'pca')) * 1000:.1f} ms")
    print(f"t-SNE embedding: {timed(lambda: embed(ev.features, 'tsne'), repeat=1):.2f} s")

    at = AppTest.from_file(str(ROOT / "app_pages" / "evaluation.py"), default_timeout=300)
    at.session_state["active_run"] = run
    start = time.perf_counter()
    at.run()
    assert not at.exception, at.exception
    print(f"page, first render (evaluation, every chart): {time.perf_counter() - start:.2f} s")
    classes = iter(list(range(len(ds.classes))) * 5)
    reruns = {
        "toggle counts/shares": lambda: at.toggle(key="ev_normalise").set_value(not at.toggle(key="ev_normalise").value).run(),
        "next image (feature maps, Grad-CAM)": lambda: at.number_input(key="ev_image_pos").increment().run(),
        "another Grad-CAM class": lambda: at.selectbox(key="ev_cam_class").set_value(next(classes)).run(),
    }  # fmt: skip
    for name, action in reruns.items():
        print(f"page rerun, {name}: {timed(action) * 1000:.0f} ms")
    start = time.perf_counter()
    at.radio(key="ev_embedding").set_value("tsne").run()
    print(f"page rerun, switch to t-SNE (first time): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
