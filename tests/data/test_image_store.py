"""The image store under trouble: two processes evicting at once, sets that runs hold, damaged content."""

import multiprocessing
import os

import numpy as np
import pytest

from cnn_core.data import image_store
from cnn_core.data.folders import from_files
from cnn_core.data.image_set import ImageSet
from tests.image_files import BLUE, RED, picture


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path / "cache"))


def small_set(seed: int):
    return from_files({c: [(str(i), picture(color, seed=1000 * seed + i)) for i in range(6)]
                       for c, color in (("a", RED), ("b", BLUE))})  # fmt: skip


def churn(folder: str, first: int, start, failures) -> None:
    """A process that fills a store that holds about eight sets, so that every put evicts (the other's sets too)."""
    os.environ["CNN_LAB_CACHE_DIR"] = folder
    shape = small_set(0).images.shape
    rng = np.random.default_rng(first)
    sets = [ImageSet(("a", "b"), rng.integers(0, 256, shape, dtype=np.uint8), np.arange(shape[0]) % 2)
            for _ in range(150)]  # fmt: skip
    image_store.MAX_STORE_BYTES = 8 * (image_store.store_dir() / f"{image_store.put(sets[0])}.npz").stat().st_size
    start.wait()
    try:
        for images in sets:
            image_store.put(images)
    except Exception as exc:  # noqa: BLE001  (reported to the test, which fails on any)
        failures.put(repr(exc))


def test_two_processes_evicting_at_once_never_fail(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start, failures = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=churn, args=(os.environ["CNN_LAB_CACHE_DIR"], first, start, failures))
             for first in (0, 100)]  # fmt: skip
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    found = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
    assert found == [] and [p.exitcode for p in procs] == [0, 0]


def test_a_set_a_run_holds_is_never_evicted(monkeypatch):
    held, other = small_set(1), small_set(2)
    image_store.put(held)
    monkeypatch.setattr(image_store, "MAX_STORE_BYTES", 1)
    with image_store.lease(held.digest):
        image_store.put(other)  # over the bound: only what nobody holds may go
        assert image_store.has(held.digest)
        image_store.put(small_set(3))
        assert image_store.has(held.digest) and not image_store.has(other.digest)
    image_store.put(small_set(4))
    assert not image_store.has(held.digest)  # released: evicted like any other


def test_only_content_proven_bad_is_deleted(monkeypatch):
    good, forged = small_set(1), small_set(2)
    image_store.put(good)
    image_store.put(forged)
    path = image_store.store_dir() / f"{forged.digest}.npz"
    np.savez(path, images=good.images, labels=good.labels, classes=np.array(good.classes))  # other pixels
    with pytest.raises(image_store.MissingImages):
        image_store.get(forged.digest)
    assert not path.exists()  # its pixels don't hash to its name: proven bad

    def no_fds(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(np, "load", no_fds)
    with pytest.raises(image_store.StoreUnavailable, match="Too many open files"):
        image_store.get(good.digest)
    assert image_store.has(good.digest)  # the machine's trouble: kept
