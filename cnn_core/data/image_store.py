"""The server's store of learners' own image sets, by content digest, bounded, least recently used out.

`$CNN_LAB_CACHE_DIR/images/<digest>.npz` (beside the model cache) holds one ImageSet's uint8 pixels,
labels and class names, written atomically. Training workers rebuild a "folder" dataset from here
with nothing but its DataConfig. Only a digest opens a set, and a digest is a hash of every pixel:
the app hands a set only to the session that uploaded it (ui.state), never lists the store.

A set is deleted only when its content is proven bad (not a readable archive, or pixels that don't hash to its
digest), never after the machine's trouble (too many open files…). Eviction tolerates other processes evicting
at once, and never takes a set that a queued or running run holds a lease on (`hold` / `release`, or `lease`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from cnn_core.data.config import DIGEST
from cnn_core.data.image_set import ImageSet
from cnn_core.settings import default_dir

logger = logging.getLogger(__name__)
MAX_STORE_BYTES = 2 * 2**30  # the whole store; older sets are removed to stay under it
LEASES = "leases"  # <store>/leases/<digest>.<pid>.<random>: a run that needs the set holds it
LEASE_SECONDS = 12 * 3600  # a lease this old belongs to a process that died without releasing it
DAMAGED = (ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError)  # the file's content is bad


class MissingImages(ValueError):
    """The images a folder dataset needs are not in the store (or not this session's): upload them again."""

    def __init__(self, digest: str, classes: tuple[str, ...]):
        self.digest, self.classes = digest, tuple(classes)
        super().__init__(
            f"it was made from your own images ({len(self.classes)} classes: {', '.join(self.classes)}; digest "
            f"{digest[:12]}…), which are not here: bring the same images again (a zip or folder of class folders)"
        )


class StoreUnavailable(ValueError):
    """The store can't be read or written now (a full or read-only disk, too many open files): nothing was lost."""

    def __init__(self, doing: str, exc: OSError):
        self.reason = exc.strerror or str(exc)
        super().__init__(f"the server could not {doing} its store of your images ({self.reason}): nothing was "
                         "deleted; try again in a moment, and if it persists ask whoever runs the server to free "
                         "disk space or set $CNN_LAB_CACHE_DIR to a writable folder")  # fmt: skip


def store_dir() -> Path:
    return default_dir() / "images"


def _path(digest: str) -> Path:
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"{digest!r} is not an image-set digest (32 hexadecimal digits)")
    return store_dir() / f"{digest}.npz"


def put(images: ImageSet) -> str:
    """Keep an image set under its digest (once); returns the digest. StoreUnavailable if the disk refuses."""
    digest = images.digest
    path = _path(digest)
    try:
        os.utime(path)  # already there: recently used
        return digest
    except FileNotFoundError:  # not there, or evicted by another process this instant: write it
        pass
    except OSError as exc:  # there, but its time can't change (a read-only disk): still there to use
        logger.warning("image store: could not mark %s as recently used: %s", path.name, exc)
        return digest
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, images=images.images, labels=images.labels, classes=np.array(images.classes))
        os.replace(tmp, path)
    except OSError as exc:
        raise _unavailable("write to", exc) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    _evict(keep=path)
    return digest


def has(digest: str) -> bool:
    return _path(digest).exists()


def get(digest: str, classes: tuple[str, ...] = ()) -> ImageSet:
    """The image set with this digest; MissingImages if the store doesn't hold it (or held a damaged copy, now
    deleted), StoreUnavailable if it can't be read now (the file stays)."""
    path = _path(digest)
    try:
        with np.load(path, allow_pickle=False) as f:
            found = ImageSet(tuple(str(c) for c in f["classes"]), f["images"], f["labels"])
        proven_bad = found.digest != digest
    except FileNotFoundError:
        raise MissingImages(digest, classes) from None
    except DAMAGED:
        proven_bad = True
    except OSError as exc:  # the machine's trouble, not the file's: keep it
        raise _unavailable("read", exc) from None
    if proven_bad:
        logger.warning("image store: %s is damaged; deleted (the learner uploads it again)", path.name)
        path.unlink(missing_ok=True)
        raise MissingImages(digest, classes)
    try:
        os.utime(path)
    except OSError:  # evicted meanwhile, or a read-only disk: the set was read all the same
        pass
    return found


# ---------------------------------------------------------------- leases: sets a queued or running run needs


def hold(digest: str) -> Path:
    """Keep this set from eviction until `release(token)`; the token (a lease file) works across processes."""
    _path(digest)  # checks the digest
    token = store_dir() / LEASES / f"{digest}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        token.parent.mkdir(parents=True, exist_ok=True)
        token.touch()
    except OSError as exc:
        raise _unavailable("write to", exc) from None
    return token


def release(token: Path) -> None:
    try:
        Path(token).unlink(missing_ok=True)
    except OSError as exc:  # it expires after LEASE_SECONDS anyway
        logger.warning("image store: could not release the lease %s: %s", Path(token).name, exc)


@contextmanager
def lease(digest: str):
    token = hold(digest)
    try:
        yield token
    finally:
        release(token)


def _held() -> set[str]:
    """Digests with a live lease (stale ones, older than LEASE_SECONDS, are ignored and removed)."""
    held, now = set(), time.time()
    for token in store_dir().joinpath(LEASES).glob("*.*"):
        try:
            if now - token.stat().st_mtime < LEASE_SECONDS:
                held.add(token.name.split(".")[0])
            else:
                token.unlink(missing_ok=True)
        except OSError:  # released meanwhile
            continue
    return held


def _evict(keep: Path) -> None:
    """Remove the least recently used sets until the store fits MAX_STORE_BYTES, sparing leased ones; another
    process evicting at the same time is fine (a file gone meanwhile is simply not counted)."""
    files = []
    for p in store_dir().glob("*.npz"):
        try:
            stat = p.stat()
        except FileNotFoundError:
            continue
        files.append((stat.st_mtime, stat.st_size, p))
    files.sort(key=lambda f: f[0])
    total = sum(size for _, size, _ in files)
    held = _held() if total > MAX_STORE_BYTES else set()
    for _, size, p in files:
        if total <= MAX_STORE_BYTES:
            break
        if p != keep and p.stem not in held:
            p.unlink(missing_ok=True)
            total -= size


def _unavailable(doing: str, exc: OSError) -> StoreUnavailable:
    logger.error("image store in %s: could not %s it: %s", store_dir(), doing, exc)
    return StoreUnavailable(doing, exc)
