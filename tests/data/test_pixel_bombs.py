"""Pixel bombs on every upload path: a few kilobytes of PNG that declare tens of megapixels are refused from their
header, before anything is decoded, and cost the process next to no memory."""

import json
import subprocess
import sys
import textwrap

import pytest
from PIL import ImageFile

from cnn_core.conv import images as conv_images
from cnn_core.conv.images import load_image
from cnn_core.data import folders
from cnn_core.data.folders import from_files, read_path, read_zip
from cnn_core.inspection.interpret import prepare_image
from tests.conftest import ROOT
from tests.image_files import layout, png_bomb, two_classes, zip_of

MB = 2**20
GROWTH_LIMIT = 40 * MB  # a 49-megapixel bomb decoded to RGB takes about 200 MB; refused from its header, ~nothing

# One upload path (argv[1]), given a bomb, in a fresh process (the peak only grows: one path per process): the peak
# resident memory it adds, and what it answered. A small picture first brings in every import and allocator arena,
# so that only the bomb's cost shows.
SCRIPT = textwrap.dedent("""
    import json, pathlib, resource, sys, tempfile
    from cnn_core.conv.images import load_image
    from cnn_core.data.folders import from_files, read_path, read_zip
    from cnn_core.inspection.interpret import prepare_image
    from tests.image_files import layout, picture, png_bomb, two_classes, zip_of

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes

    def paths(image):
        classes = two_classes(3)
        classes["reds"] = classes["reds"] + [("big.png", image)]

        def folder():
            root = pathlib.Path(tempfile.mkdtemp())
            for rel, data in layout(classes).items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)
            return read_path(root)

        return {"convolution": lambda: load_image(image), "evaluation": lambda: prepare_image(image, (3, 32, 32)),
                "zip": lambda: read_zip(zip_of(layout(classes))), "files": lambda: from_files(classes),
                "folder": folder}

    name = sys.argv[1]
    paths(picture(size=(300, 200)))[name]()
    before = peak()
    try:
        result = paths(png_bomb())[name]()
        answer = "; ".join(result.notices()) if hasattr(result, "notices") else "accepted"
    except ValueError as exc:
        answer = str(exc)
    print(json.dumps([answer, peak() - before]))
""")


@pytest.mark.parametrize("path", ["convolution", "evaluation", "zip", "files", "folder"])
def test_a_bomb_on_every_upload_path_is_refused_with_a_message_and_costs_next_to_no_memory(path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, path], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answer, growth = json.loads(done.stdout)
    assert "megapixels" in answer, answer
    assert growth < GROWTH_LIMIT, f"the bomb cost {growth / MB:.0f} MB"
    if path in ("convolution", "evaluation"):
        assert "7,000×7,000 pixels, 49 megapixels; the limit is 25 megapixels" in answer
    else:  # a set of images: the bomb is skipped, with a notice, and the rest are used
        assert "1 file skipped (more than 25 megapixels): " in answer and "big.png" in answer


def test_the_bombs_are_refused_before_any_pixel_is_decoded(monkeypatch):
    decoded = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decoded.append(im.size) or real(im))
    bomb = png_bomb()
    for call in (lambda: load_image(bomb), lambda: prepare_image(bomb, (1, 8, 8))):
        with pytest.raises(ValueError, match="too large to open safely"):
            call()
    s = from_files({"a": [("bomb.png", bomb)] + two_classes(2)["reds"], "b": two_classes(2)["blues"]})
    assert s.counts == [2, 2] and (7000, 7000) not in decoded


def test_a_zip_of_many_small_files_of_large_images_is_refused_before_decoding_any(monkeypatch):
    """2,000 members of a few kilobytes, each 25 megapixels (at the limit for one image): 50,000 megapixels in all.
    Decoding them took tens of CPU-minutes; their headers say so at once."""
    decoded = []
    real = ImageFile.ImageFile.load

    def load(im):
        decoded.append(im.size)
        if len(decoded) > 5:  # the old code decoded every member: stop it early, the test has already failed
            raise MemoryError("decoded the members one by one")
        return real(im)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    side = int(conv_images.MAX_PIXELS**0.5)
    member = png_bomb(side, side)
    data = zip_of({f"{'ab'[i % 2]}/{i}.png": member for i in range(2000)})
    assert len(data) < 10 * MB
    with pytest.raises(ValueError, match=f"more than {folders.MAX_TOTAL_PIXELS // 10**6:,} megapixels"):
        read_zip(data)
    assert decoded == []


def test_the_total_budget_counts_a_jpeg_at_the_scale_it_decodes_at(monkeypatch):
    """A 4000×3000 JPEG decodes at 1/8 scale (500×375) for 128² storage: it costs 0.19 megapixels, not 12."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(buf, "JPEG")
    photo = buf.getvalue()
    assert folders.decode_cost(photo) == 500 * 375
    assert folders.decode_cost(png_bomb()) == 0  # over the limit for one image: skipped, never decoded
    monkeypatch.setattr(folders, "MAX_TOTAL_PIXELS", 500 * 375 * 4)
    assert from_files({"a": [("0.jpg", photo)] * 2, "b": [("0.jpg", photo)] * 2}).counts == [2, 2]
    with pytest.raises(ValueError, match="decoding these images would take more than 0 megapixels"):
        from_files({"a": [("0.jpg", photo)] * 3, "b": [("0.jpg", photo)] * 2})


def test_a_folder_with_a_pipe_a_device_link_and_an_unreadable_file_skips_them_without_waiting(tmp_path):
    import os

    for rel, data in layout(two_classes(3)).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    os.mkfifo(tmp_path / "reds" / "pipe.png")  # reading it would wait forever for a writer
    (tmp_path / "blues" / "zero.png").symlink_to("/dev/zero")  # links are not followed
    locked = tmp_path / "blues" / "locked.png"
    locked.write_bytes(b"x")
    locked.chmod(0)
    s = read_path(tmp_path)
    assert s.counts == [3, 3]
    notices = " ".join(s.notices())
    assert "not regular files (pipes, devices or sockets)): reds/pipe.png" in notices
    if os.geteuid() != 0:  # root reads any file
        assert "can't be read" in notices and "locked.png" in notices


def test_a_zip_given_by_a_link_is_still_read(tmp_path):
    (tmp_path / "mine.zip").write_bytes(zip_of(layout(two_classes(3))))
    (tmp_path / "link.zip").symlink_to(tmp_path / "mine.zip")
    assert read_path(tmp_path / "link.zip").counts == [3, 3]
