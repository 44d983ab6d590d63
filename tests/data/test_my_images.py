"""Your own images: reading zips, folders and class-by-class uploads, the store, and the datasets they make."""

import hashlib
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from cnn_core.conv import images as conv_images
from cnn_core.data import folders, image_store
from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.data.folders import from_files, read_path, read_zip
from cnn_core.data.image_set import ImageSet, folder_config, to_arrays
from cnn_core.words import count
from tests.image_files import BLUE, RED, layout, picture, two_classes, zip_of


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path / "cache"))


# ---------------------------------------------------------------- the same files, the same dataset


def test_zip_folder_and_class_by_class_give_the_same_dataset(tmp_path):
    classes = two_classes()
    by_zip = read_zip(zip_of(layout(classes, root="photos/")))
    reordered = {name: files[::-1] for name, files in reversed(classes.items())}
    by_class = from_files({name: [(f"other-{i}", d) for i, (_, d) in enumerate(files)]
                           for name, files in reordered.items()})  # fmt: skip
    for path, data in layout(classes).items():
        (tmp_path / "dir" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "dir" / path).write_bytes(data)
    by_dir = read_path(tmp_path / "dir")
    assert by_zip.classes == by_class.classes == by_dir.classes == ("blues", "reds")  # ImageFolder's sorted order
    assert by_zip.digest == by_class.digest == by_dir.digest
    configs = [folder_config(s, size=24) for s in (by_zip, by_class, by_dir)]
    assert configs[0] == configs[1] == configs[2]
    image_store.put(by_zip)
    a, b = make_dataset(configs[0]), make_dataset(configs[1])
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert a.images.shape == (12, 3, 24, 24) and np.bincount(a.labels).tolist() == [6, 6]


def test_the_digest_is_a_sha256_of_class_names_labels_and_pixels():
    pixels = np.arange(2 * 128 * 128 * 3, dtype=np.uint64).astype(np.uint8).reshape(2, 128, 128, 3)
    s = ImageSet(("a", "b"), pixels, np.array([0, 1]))
    h = hashlib.sha256(b"a\0b\0" + np.array([0, 1], dtype="<i8").tobytes() + pixels.tobytes())
    assert s.digest == h.hexdigest()[:32]
    changed = pixels.copy()
    changed[1, 5, 5, 0] ^= 1
    assert ImageSet(("a", "b"), changed, np.array([0, 1])).digest != s.digest
    assert ImageSet(("a", "c"), pixels, np.array([0, 1])).digest != s.digest


def test_settings_change_the_dataset_key_but_not_the_digest():
    s = from_files(two_classes(4))
    small, big, grey = folder_config(s, size=16), folder_config(s, size=32), folder_config(s, image_mode="grey")
    assert small.digest == big.digest == grey.digest == s.digest
    assert len({small.key(), big.key(), grey.key(), folder_config(s, seed=1).key()}) == 4
    assert DataConfig.from_json(small.to_json()) == small


def test_conversion_matches_torch_antialiased_resize_and_itu_luma():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 128, 128, 3), dtype=np.uint8)
    s = ImageSet(("a", "b"), pixels, np.array([0, 0, 1, 1]))
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).double() / 255
    for size in (16, 20, 64):
        images, labels = to_arrays(s, DataConfig(dataset="folder", classes=("a", "b"), n_per_class=2, size=size,
                                                 digest="0" * 32))  # fmt: skip
        ref = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True).numpy()
        assert images.dtype == np.float32 and np.abs(images - ref).max() < 1.01 / 255
    grey, _ = to_arrays(s, DataConfig(dataset="folder", classes=("a", "b"), n_per_class=1, size=128,
                                      image_mode="grey", digest="0" * 32))  # fmt: skip
    luma = np.tensordot([0.299, 0.587, 0.114], pixels[[0, 2]].transpose(3, 0, 1, 2) / 255, axes=1)
    assert grey.shape == (2, 1, 128, 128) and np.abs(grey[:, 0] - luma).max() < 1.01 / 255


def test_a_missing_image_set_names_what_is_needed():
    s = from_files(two_classes(3))
    cfg = folder_config(s)
    with pytest.raises(image_store.MissingImages, match="blues, reds"):
        make_dataset(cfg)
    image_store.put(s)
    assert make_dataset(cfg).num_classes == 2
    with pytest.raises(ValueError, match="not an image-set digest"):
        image_store.get("../../etc/passwd")


def test_the_store_stays_under_its_bound_dropping_the_least_recently_used(monkeypatch):
    sets = [from_files({"a": [(f"{i}{j}", picture(RED, seed=10 * i + j)) for j in range(2)],
                        "b": [(f"{i}{j}", picture(BLUE, seed=10 * i + j)) for j in range(2)]}) for i in range(3)]  # fmt: skip
    one = image_store.put(sets[0])
    size = (image_store.store_dir() / f"{one}.npz").stat().st_size
    monkeypatch.setattr(image_store, "MAX_STORE_BYTES", int(size * 2.5))
    image_store.put(sets[1])
    image_store.get(sets[0].digest)  # used again: now the newest
    image_store.put(sets[2])
    assert [image_store.has(s.digest) for s in sets] == [True, False, True]


# ---------------------------------------------------------------- bad input


def test_files_that_are_not_images_and_system_files_are_skipped_and_counted():
    files = layout(two_classes(3))
    files.update({"reds/notes.txt": b"hello", "reds/broken.jpg": picture(RED, fmt="JPEG")[:200],
                  "__MACOSX/reds/._r0.png": b"\0\5", "reds/.DS_Store": b"\0", "blues/more.zip": zip_of({"x": b"1"}),
                  "loose.png": picture(RED)})  # fmt: skip
    s = read_zip(zip_of(files))
    assert s.counts == [3, 3]
    notices = " | ".join(s.notices())
    assert "1 file skipped (not an image): reds/notes.txt" in notices
    assert "damaged or truncated" in notices and "hidden system files" in notices
    assert "archives inside the archive are not opened" in notices and "not inside a class folder" in notices


@pytest.mark.parametrize(
    "files, message",
    [
        ({"cats/a.png": picture(), "cats/b.png": picture(seed=1)}, "only one class"),
        ({"cats/a.png": picture(), "cats/b.png": picture(seed=1), "dogs/a.png": picture()}, "too few images in dogs"),
        ({"cats/a.png": picture(), "cats/b.png": picture(seed=1), "dogs/a.txt": b"x"}, "too few images in dogs"),
        ({"../evil.png": picture()}, "path outside its folder"),
        ({"/etc/evil.png": picture()}, "path outside its folder"),
        ({"cats/a.png": b"\0" * (8 * 2**20)}, "zip bomb"),
        ({"readme.txt": b"x"}, "no class folders"),
    ],
)
def test_bad_zips_are_refused_with_a_clear_message(files, message):
    with pytest.raises(ValueError, match=message):
        read_zip(zip_of(files))


def test_the_refusal_counts_the_skipped_files_in_good_english():
    one = {"cats/a.png": picture(), "cats/b.png": picture(seed=1), "cats/notes.txt": b"x"}
    with pytest.raises(ValueError, match=r"only one class \(cats\) \(1 other file was skipped\)"):
        read_zip(zip_of(one))
    with pytest.raises(ValueError, match=r"\(2 other files were skipped\)"):
        read_zip(zip_of({**one, "cats/more.txt": b"y"}))


def test_counts_in_words_are_singular_for_one_only():
    assert [count(n, "run") for n in (0, 1, 2, 1200)] == ["0 runs", "1 run", "2 runs", "1,200 runs"]
    assert count(1, "class", "classes") == "1 class" and count(3, "class", "classes") == "3 classes"


def test_not_a_zip_is_refused():
    with pytest.raises(ValueError, match="not a zip"):
        read_zip(picture())


def test_too_many_files_or_bytes_name_the_limit(monkeypatch):
    data = zip_of(layout(two_classes(3)))
    monkeypatch.setattr(folders, "MAX_FILES", 5)
    with pytest.raises(ValueError, match="6 files; the limit is 5"):
        read_zip(data)
    with monkeypatch.context() as m:  # counted from the zip's end record, before zipfile lists every member
        m.setattr(folders.zipfile, "ZipFile", None)
        with pytest.raises(ValueError, match="6 files; the limit is 5"):
            read_zip(data)
    monkeypatch.setattr(folders, "MAX_FILES", 5000)
    monkeypatch.setattr(folders, "MAX_TOTAL_BYTES", 2**20 // 2)
    with pytest.raises(ValueError, match="the limit is 0 MB"):
        read_zip(zip_of({"a/x.png": picture(), "a/y.bin": b"\1" * 2**20}))


def test_a_decompression_bomb_is_skipped(monkeypatch):
    monkeypatch.setattr(conv_images, "MAX_PIXELS", 50 * 50)
    s = from_files({"a": [("big.png", picture(size=(60, 60))), *two_classes(2)["reds"]], "b": two_classes(2)["blues"]})
    assert s.counts == [2, 2] and "megapixels" in " ".join(s.notices())


def test_mixed_sizes_and_modes_become_squares_of_one_kind():
    files = {"a": [("grey.png", picture(RED, (30, 50), mode="L")), ("palette.gif", picture(RED, mode="P", fmt="GIF")),
                   ("cmyk.jpg", picture(RED, (80, 40), mode="CMYK", fmt="JPEG"))],
             "b": [("wide.png", picture(BLUE, (200, 20))), ("tiny.bmp", picture(BLUE, (5, 5), fmt="BMP"))]}  # fmt: skip
    s = from_files(files)
    assert s.images.shape == (5, 128, 128, 3) and s.images.dtype == np.uint8
    notices = s.notices()
    assert "3 images cropped to a centred square" in notices
    assert "the images came in 4 pixel formats, CMYK (1), L (1), P (1), RGB (2): all were converted to RGB" in notices
    assert "the images came in 5 sizes, from 5×5 to 200×20 pixels: all were made 128×128" in notices


def test_transparent_parts_go_on_white_and_animations_keep_their_first_frame():
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[:, :16] = (200, 0, 0, 255)  # left half opaque red, right half fully transparent
    png = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(png, "PNG")
    gif = io.BytesIO()
    frames = [Image.new("RGB", (32, 32), c) for c in (BLUE, RED, RED)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    s = from_files({"a": [("t.png", png.getvalue()), ("x.png", picture(RED))], "b": [("anim.gif", gif.getvalue()),
                                                                                     ("y.png", picture(BLUE))]})  # fmt: skip
    transparent = next(img for img in s.images[s.labels == 0] if img[64, 120].tolist() == [255, 255, 255])
    assert transparent[64, 5].tolist() == [200, 0, 0]
    assert any(abs(int(img[64, 64, 2]) - BLUE[2]) < 20 and img[64, 64, 0] < 60 for img in s.images[s.labels == 1])
    notices = s.notices()
    assert "1 image with transparency put on a white background" in notices
    assert "1 image animated: only the first frame was used" in notices


def test_exif_orientation_turns_a_photo_upright():
    pixels = np.zeros((64, 64, 3), dtype=np.uint8)
    pixels[:, :32] = RED
    pixels[:, 32:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down: the camera asks for a 180° turn
    jpg = io.BytesIO()
    Image.fromarray(pixels).save(jpg, "JPEG", exif=exif, quality=95)
    s = from_files({"a": [("photo.jpg", jpg.getvalue()), ("x.png", picture(RED))], "b": two_classes(2)["blues"]})
    photo = next(img for img in s.images[s.labels == 0] if img[64, 10, 2] > 150)  # its left side is now blue
    assert photo[64, 120, 0] > 150
    assert "1 image turned upright by their EXIF orientation" in s.notices()


def test_class_names_must_differ_and_be_usable():
    with pytest.raises(ValueError, match="same name"):
        from_files({"cats": two_classes(2)["reds"], "cats ": two_classes(2)["blues"]})
    with pytest.raises(ValueError, match="can't be used"):
        from_files({"": two_classes(2)["reds"], "b": two_classes(2)["blues"]})
    # Charts render a little HTML in their labels, and a class name is in every chart: a link or an image can't be one.
    for name in ("<a href='https://evil.example'>cats</a>", "<img src=x>", "tab\there"):
        with pytest.raises(ValueError, match="angle brackets or control characters"):
            from_files({name: two_classes(2)["reds"], "b": two_classes(2)["blues"]})
    assert from_files({"cats & dogs (2)": two_classes(2)["reds"], "b": two_classes(2)["blues"]}).classes[0] == "b"


def test_a_folder_config_checks_its_digest_and_image_mode():
    with pytest.raises(ValueError, match="digest"):
        DataConfig(dataset="folder", classes=("a", "b"))
    with pytest.raises(ValueError, match="image_mode"):
        DataConfig(dataset="folder", classes=("a", "b"), digest="0" * 32, image_mode="sepia")
    with pytest.raises(ValueError, match="your own images"):
        DataConfig(digest="0" * 32)


def test_the_example_set_reads_as_two_classes_of_faces():
    from cnn_core.data.examples import example_zip

    s = read_zip(example_zip())
    assert s.classes == ("happy", "sad") and s.counts == [24, 24]
    assert s.digest == read_zip(example_zip()).digest
    with zipfile.ZipFile(io.BytesIO(example_zip())) as zf:
        assert "faces/README.txt" in zf.namelist()


def test_the_download_of_your_images_uploads_back_to_the_same_digest():
    from ui.my_images import images_zip

    s = read_zip(zip_of(layout(two_classes(5))))
    again = read_zip(images_zip(s))
    assert again.digest == s.digest and again.classes == s.classes and not again.notices()
