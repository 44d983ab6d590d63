"""Image files and zips made on the fly for the tests of your own images."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def picture(colour=RED, size=(40, 40), seed: int = 0, fmt: str = "PNG", mode: str = "RGB", **save) -> bytes:
    """A noisy picture of one main colour (different seeds: different pixels), encoded as `fmt`."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(pixels).convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def two_classes(n: int = 6) -> dict[str, list[tuple[str, bytes]]]:
    """Reds and blues, n of each, as class → (file name, bytes)."""
    return {"reds": [(f"r{i}.png", picture(RED, seed=i)) for i in range(n)],
            "blues": [(f"b{i}.jpg", picture(BLUE, seed=100 + i, fmt="JPEG")) for i in range(n)]}  # fmt: skip


def zip_of(files: dict[str, bytes]) -> bytes:
    """Path inside the zip → bytes, as one zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return buf.getvalue()


def layout(classes: dict[str, list[tuple[str, bytes]]], root: str = "") -> dict[str, bytes]:
    """The ImageFolder layout of class → files: {root/class/name: bytes}."""
    return {f"{root}{name}/{fname}": data for name, files in classes.items() for fname, data in files}


def png_bomb(width: int = 7000, height: int = 7000) -> bytes:
    """A valid 1-bit grey PNG of width × height, all black: a few kilobytes that decode to width × height pixels
    (7000² = 49 megapixels: under every limit the app had before it checked sizes from the header, each of
    which decoded it to hundreds of megabytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte 0, then the row's bits
    pixels = zlib.compressobj(9)
    data = b"".join(pixels.compress(row) for _ in range(height)) + pixels.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grey, deflate, no filter, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
