"""Your own images: read a zip or folder of class folders, or files class by class, into one ImageSet.

Every source ends the same way: the pixels that decoding every image would take are read from their headers
and checked against MAX_TOTAL_PIXELS, then each readable image is turned upright (EXIF), put on white where it
is transparent, cropped to a centred square and resized to STORE_SIDE × STORE_SIDE RGB (decoding.py). Within a class
the images are ordered by content, so the same files give the same ImageSet (and digest) whichever
way they came. Nothing is written to disk here and no archive member is extracted: a zip is read in
memory, with the limits below checked before anything is decompressed.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from cnn_core.conv import images as conv_images
from cnn_core.data.decoding import MAX_FILE_BYTES as MAX_FILE_BYTES  # the upload widgets' limit
from cnn_core.data.decoding import decode, decode_cost
from cnn_core.data.image_set import ImageSet
from cnn_core.jsonconfig import shown
from cnn_core.words import count

MAX_FILES = 5000  # members of a zip or files of a folder, images or not
MAX_IMAGES = 3000  # images kept: 3000 × 128² × 3 bytes = 141 MB at most in memory
MAX_TOTAL_BYTES = 300 * 2**20  # uncompressed bytes of all the files together
MAX_RATIO = 100  # a zip member that inflates more than this is a zip bomb (photos barely compress)
MAX_TOTAL_PIXELS = 1_000_000_000  # pixels decoded for all the images together (each at most conv_images.MAX_PIXELS):
# read from the headers before any is decoded, so that 2,000 small files of 25 megapixels each are refused at once
MAX_CLASSES = 20
MIN_PER_CLASS = 2
ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini"}
MB = 2**20


# ---------------------------------------------------------------- sources


def _skip(skipped: dict[str, list[str]], reason: str, name: str) -> None:
    skipped.setdefault(reason, []).append(name)


def _is_hidden(path: str) -> bool:
    parts = path.split("/")
    return any(p == "__MACOSX" or p.startswith(".") or p.lower() in SYSTEM_FILES for p in parts)


def _check_totals(n_files: int, n_bytes: int) -> None:
    if n_files > MAX_FILES:
        raise ValueError(f"it holds {n_files:,} files; the limit is {MAX_FILES:,}: use fewer images")
    if n_bytes > MAX_TOTAL_BYTES:
        raise ValueError(f"its files add up to {n_bytes / MB:,.0f} MB; the limit is {MAX_TOTAL_BYTES // MB} MB: "
                         "use fewer or smaller images")


def _entries_declared(data: bytes) -> int:
    """How many members a zip's end record declares (0 if there is none), read before zipfile parses them all."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return 0
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    directory_bytes = int.from_bytes(data[end + 12 : end + 16], "little")
    return max(count, directory_bytes // 46 if count == 0xFFFF else 0)  # zip64: at least 46 bytes per member


def read_zip(data: bytes) -> ImageSet:
    """A zip of class folders (`cats/a.jpg`, `dogs/b.png`; one enclosing folder is fine)."""
    _check_totals(_entries_declared(data), 0)  # a million tiny members would cost memory just to list
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError("this file is not a zip archive (or it is damaged)") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for m in members:
            name = m.filename.replace("\\", "/")
            if name.startswith("/") or ".." in name.split("/") or (len(name) > 1 and name[1] == ":"):
                raise ValueError(f"the zip holds a path outside its folder ({m.filename!r}): refused")
            if m.flag_bits & 0x1:
                raise ValueError(f"the zip holds an encrypted file ({m.filename!r}): zip it again without a password")
        _check_totals(len(members), sum(m.file_size for m in members))
        for m in members:
            if m.file_size > MAX_RATIO * max(m.compress_size, 1) and m.file_size > MB:
                raise ValueError(f"{m.filename!r} inflates {m.file_size / max(m.compress_size, 1):,.0f}-fold "
                                 f"(the limit is {MAX_RATIO}-fold): this looks like a zip bomb and was refused")

        def read(m: zipfile.ZipInfo) -> bytes:
            try:
                return archive.read(m)  # at most file_size bytes, CRC-checked
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise ValueError(f"damaged zip member ({exc})") from None

        return _collect([(m.filename.replace("\\", "/"), m, m.file_size) for m in members], read)


def read_path(path: str | Path) -> ImageSet:
    """A folder of class folders, or a zip file of them (the CLI's `--path`). Only regular files are read: a pipe,
    device or socket inside the folder is skipped (reading one could wait forever), as is a file that can't be read."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValueError(f"{path} is neither a folder nor a zip file: nothing is there") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise ValueError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISREG(info.st_mode):
        _check_totals(0, info.st_size)
        return read_zip(_read_file(path, follow=True))  # a link to a zip given by name is followed
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path} is neither a folder nor a zip file")
    files, skipped = [], {}

    def unreadable(exc: OSError) -> None:
        _skip(skipped, "folders that can't be read", Path(exc.filename or "?").name)

    for root, dirs, names in os.walk(path, onerror=unreadable, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            full = Path(root) / name
            rel = full.relative_to(path).as_posix()
            try:
                mode = full.lstat()
            except OSError:
                _skip(skipped, "files that can't be read", rel)
                continue
            if stat.S_ISLNK(mode.st_mode):
                continue
            if not stat.S_ISREG(mode.st_mode):
                _skip(skipped, "not regular files (pipes, devices or sockets)", rel)
                continue
            files.append((rel, full, mode.st_size))
            if len(files) > MAX_FILES:
                _check_totals(len(files), 0)
    _check_totals(len(files), sum(size for _, _, size in files))
    return _collect(files, _read_file, skipped)


def _read_file(path: Path, follow: bool = False) -> bytes:
    """A file's bytes, read without waiting on a pipe (or following a link) that has taken its place; ValueError if
    it can't be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else getattr(os, "O_NOFOLLOW", 0)))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ValueError("not a regular file")
            return f.read(MAX_TOTAL_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"can't be read ({exc.strerror or exc})") from None


def _collect(entries, read, skipped: dict[str, list[str]] | None = None) -> ImageSet:
    """(path relative to the root, handle, size) of every file → an ImageSet, classes from the first folder."""
    skipped = {} if skipped is None else skipped
    visible = []
    for rel, handle, _size in entries:
        if _is_hidden(rel):
            _skip(skipped, "hidden system files", rel)
        else:
            visible.append((rel, handle))
    # One folder around the class folders (the zip of a folder): look inside it.
    while (visible and all("/" in rel for rel, _ in visible) and len({rel.split("/")[0] for rel, _ in visible}) == 1
           and any(rel.count("/") > 1 for rel, _ in visible)):  # fmt: skip
        visible = [(rel.split("/", 1)[1], handle) for rel, handle in visible]
    by_class: dict[str, list[tuple[str, object]]] = {}
    for rel, handle in visible:
        if "/" not in rel:
            _skip(skipped, "not inside a class folder", rel)
        else:
            by_class.setdefault(rel.split("/", 1)[0], []).append((rel, handle))
    return from_classes({name: [(rel, lambda h=handle: read(h)) for rel, handle in files]
                         for name, files in by_class.items()}, skipped)  # fmt: skip


def from_files(files: dict[str, list[tuple[str, bytes]]]) -> ImageSet:
    """Class by class: class name → (file name, bytes) of its uploads or camera pictures."""
    names = [n.strip() for n in files]
    if len(set(names)) != len(names):
        raise ValueError("two classes have the same name: give each class its own name")
    n_files = sum(len(f) for f in files.values())
    _check_totals(n_files, sum(len(data) for f in files.values() for _, data in f))
    return from_classes({name.strip(): [(fname, lambda d=data: d) for fname, data in f] for name, f in files.items()})


def from_classes(classes: dict[str, list[tuple[str, object]]], skipped: dict | None = None) -> ImageSet:
    """Class name → (file name, a function giving its bytes) → the canonical ImageSet, or a clear ValueError."""
    skipped = {} if skipped is None else skipped
    changed: Counter = Counter()
    originals: Counter = Counter()
    names = sorted(classes)
    for name in names:
        if not name or len(name) > 40 or any(c in name for c in "/\\<>") or not name.isprintable():
            # no angle brackets: charts (Plotly) render a little HTML in labels, and a class name is in every chart
            raise ValueError(f"class name {shown(name)} can't be used: use 1 to 40 characters without slashes, "
                             "angle brackets or control characters")
    if len(names) > MAX_CLASSES:
        raise ValueError(f"found {len(names)} classes; the limit is {MAX_CLASSES}")
    _check_pixels(classes)
    per_class: list[list[np.ndarray]] = []
    kept = 0
    for name in names:
        decoded = []
        for fname, get in classes[name]:
            if fname.lower().endswith(ARCHIVES):
                _skip(skipped, "archives inside the archive are not opened: unpack them first", fname)
                continue
            try:
                decoded.append(decode(get(), changed, originals))
            except ValueError as exc:
                _skip(skipped, str(exc), fname)
                continue
            kept += 1
            if kept > MAX_IMAGES:
                raise ValueError(f"more than {MAX_IMAGES:,} images; the limit is {MAX_IMAGES:,}: use fewer")
        per_class.append(sorted(decoded, key=lambda a: hashlib.sha256(a.tobytes()).digest()))
    found = [(n, len(d)) for n, d in zip(names, per_class)]
    n_skipped = sum(len(v) for v in skipped.values())
    note = f" ({count(n_skipped, 'other file')} {'was' if n_skipped == 1 else 'were'} skipped)" if skipped else ""
    if len(names) < 2:
        only = f"only one class ({names[0]})" if names else "no class folders"
        raise ValueError(f"found {only}{note}: a classifier needs at least two classes, one folder of images each")
    few = [f"{n} ({k})" for n, k in found if k < MIN_PER_CLASS]
    if few:
        raise ValueError(f"too few images in {', '.join(few)}{note}: each class needs at least {MIN_PER_CLASS}, "
                         "and more than 10 to train and test on")
    pixels = np.stack([a for d in per_class for a in d])
    labels = np.repeat(np.arange(len(names), dtype=np.int64), [len(d) for d in per_class])
    return ImageSet(tuple(names), pixels, labels, skipped, changed, originals)


def _check_pixels(classes: dict[str, list[tuple[str, object]]]) -> None:
    """ValueError, before any image is decoded, when decoding them all would take more than MAX_TOTAL_PIXELS."""
    total = 0
    for files in classes.values():
        for fname, get in files:
            if fname.lower().endswith(ARCHIVES):
                continue
            try:
                total += decode_cost(get())
            except ValueError:  # a file that can't be read: the decoding pass lists it
                continue
            if total > MAX_TOTAL_PIXELS:
                raise ValueError(f"decoding these images would take more than {MAX_TOTAL_PIXELS // 1_000_000:,} "
                                 f"megapixels (the limit; one image may have at most {conv_images.MAX_PIXELS // 1_000_000}):"
                                 " use fewer or smaller images")
