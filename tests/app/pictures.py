"""The pictures a page shows with st.image, as a browser would fetch them: their captions and their pixels.

AppTest keeps an image's URL only, and drops its media store after each run; `record` keeps every file the page
stores during the test (the bytes behind each URL), so a test can decode a picture and check its pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage


def record(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Every media file stored from now until the test ends, by its id (the URL's last part, less the extension)."""
    stored: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        stored[file_id] = self.get_file(file_id).content
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return stored


def captions(at) -> list[str]:
    """Every picture's caption, in page order."""
    return [img.caption for el in at.image for img in el.proto.imgs]


def picture(at, media: dict[str, bytes], start: str) -> tuple[str, np.ndarray]:
    """(caption, pixels as an (H, W, 4) uint8 array) of the first picture whose caption starts with `start`."""
    for el in at.image:
        for img in el.proto.imgs:
            if img.caption.startswith(start):
                data = media[img.url.rsplit("/", 1)[1].split(".")[0]]
                return img.caption, np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    raise AssertionError(f"no picture's caption starts with {start!r}: {captions(at)}")


def inline_gallery(at) -> list[tuple[str, list[str], list[np.ndarray]]]:
    """The Dataset page's gallery (one HTML element, its tiles inline as data URIs): per class, its heading's text,
    the tiles' captions and their pixels, as a browser would decode them."""
    import base64
    import html
    import re

    body = next(h.proto.body for h in at.get("html") if "cnn-gallery" in h.proto.body)
    out = []
    for heading, figures in re.findall(r'<div class="cnn-gallery-class">(.*?)</div><div class="cnn-gallery">(.*?)</div>',
                                       body):
        found = re.findall(r'<img src="data:image/png;base64,([^"]+)"[^>]*><figcaption>(.*?)</figcaption>', figures)
        pixels = [np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))) for data, _ in found]
        out.append((html.unescape(re.sub(r"<[^>]+>", "", heading)).lstrip("■ "), [c for _, c in found], pixels))
    return out
