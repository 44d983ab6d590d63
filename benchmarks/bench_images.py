"""Your own images: 1,000 uploaded 256×256 JPEGs made into a dataset at size 32. Prints the figures in docs/performance.md.

`python benchmarks/bench_images.py [N]` (N images, default 1,000, half per class). Times reading the zip
(decode, EXIF, crop, resize to the stored 128²), keeping it in the store, and building the 32×32
dataset from the store as a training worker does; the peak of Python-allocated memory while reading,
against what the image caps allow; and the Dataset page's rerun once the images are in.
"""

import io
import os
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks._timing import median_seconds, page_rerun_seconds  # noqa: E402


def photo_zip(n: int, side: int = 256) -> bytes:
    """n JPEG photos-alike (smooth colour fields with grain), half in cats/, half in dogs/."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # JPEGs don't compress further
        for i in range(n):
            coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            im = Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC)
            grain = rng.normal(0, 12, (side, side, 3))
            im = Image.fromarray(np.clip(np.asarray(im) + grain, 0, 255).astype(np.uint8))
            jpg = io.BytesIO()
            im.save(jpg, "JPEG", quality=90)
            zf.writestr(f"pets/{'cats' if i % 2 else 'dogs'}/{i:05d}.jpg", jpg.getvalue())
    return buf.getvalue()


def _fresh_put(images) -> None:
    from cnn_core.data import image_store

    (image_store.store_dir() / f"{images.digest}.npz").unlink(missing_ok=True)
    image_store.put(images)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    os.environ["CNN_LAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-images-")
    from cnn_core.data import folders, image_store
    from cnn_core.data.dataset import make_dataset
    from cnn_core.data.image_set import STORE_SIDE, folder_config

    data = photo_zip(n)
    print(f"{n:,} JPEGs of 256×256 in a {len(data) / 2**20:.1f} MB zip")
    images = folders.read_zip(data)
    config = folder_config(images, size=32)
    print(f"{'read the zip (decode, crop, resize to 128²)':52s} {median_seconds(lambda: folders.read_zip(data), 3):7.2f} s")
    image_store.put(images)
    print(f"{'keep it in the store (first time)':52s} {median_seconds(lambda: _fresh_put(images), 3):7.2f} s")
    print(f"{'build the 32×32 dataset from the store':52s} {median_seconds(lambda: make_dataset(config), 3):7.2f} s")
    tracemalloc.start()
    folders.read_zip(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cap = folders.MAX_IMAGES * STORE_SIDE**2 * 3
    print(f"{'peak memory while reading (Python allocations)':52s} {peak / 2**20:7.0f} MB "
          f"(zip {len(data) / 2**20:.0f} MB + images {images.images.nbytes / 2**20:.0f} MB; "
          f"the cap of {folders.MAX_IMAGES:,} images is {cap / 2**20:.0f} MB)")


    def upload(at) -> None:
        at.sidebar.selectbox(key="ds_dataset").set_value("folder").run()
        at.radio(key="ds_my_source").set_value("zip").run()
        at.file_uploader(key="ds_zip").set_value(("pets.zip", data, "application/zip")).run()
        assert at.metric[0].value == f"{n:,}", at.metric

    first, rerun = page_rerun_seconds("app_pages/dataset.py", setup=upload)
    print(f"{'Dataset page rerun with these images (median)':52s} {rerun * 1000:7.0f} ms")
