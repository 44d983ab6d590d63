"""Widgets that bring a learner's own images: the example set, a zip of class folders, or class by class
(uploads and camera pictures); and the request for them when a model needs images this session lacks."""

from __future__ import annotations

import io
import zipfile

import streamlit as st

from cnn_core.data.examples import example_zip
from cnn_core.data.folders import MAX_CLASSES, MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, from_files, read_zip
from cnn_core.data.image_set import ImageSet
from cnn_core.data.image_store import MissingImages
from cnn_core.words import count
from ui.echo import plain
from ui.state import MY_IMAGES, keep_my_images

SOURCES = {"example": "The example set (faces)", "zip": "A zip of class folders", "classes": "Class by class"}
IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
CAMERA = "ds_camera_shots"  # session key: class index → [(name, bytes)] of camera pictures
ZIP_MB, FILE_MB = 50, MAX_FILE_BYTES // 2**20  # upload limits per file (.streamlit/config.toml allows 50 MB)
ERROR = "ds_my_images_error"  # session key: why the last images brought were refused
SEEN = "ds_seen_uploads"  # session key: the upload (or camera picture) ids already read
LIMITS = (f"At most {MAX_FILES:,} files, {MAX_TOTAL_BYTES // 2**20} MB in all and {MAX_CLASSES} classes; "
          "hidden system files (__MACOSX, .DS_Store) are ignored and files that are not images are skipped.")


@st.cache_data(max_entries=1, ttl=600, show_spinner="Reading the images…")  # zips are big: one at a time
def _read_zip(data: bytes) -> ImageSet:
    return read_zip(data)


@st.cache_data(max_entries=1, show_spinner=False)
def _example() -> bytes:
    return example_zip()


def _read(make, what: str) -> None:
    """Make an image set the session's; a refusal stays on screen until the next try (ERROR)."""
    st.session_state.pop(ERROR, None)
    try:
        keep_my_images(make())
    except ValueError as exc:
        st.session_state[ERROR] = f"{what} can't be used: {plain(exc)}."


def my_images_ui() -> ImageSet | None:
    """The source widgets in the page's body; returns this session's current image set (None before any)."""
    st.subheader("Your images")
    source = st.radio("Where your images come from", list(SOURCES), format_func=SOURCES.get, key="ds_my_source",
                      horizontal=True, help="A zip holds one folder per class (cats/…, dogs/…), the layout of "
                      "torchvision's ImageFolder. Class by class, you name each class and drop its files or take "
                      "pictures with your camera.")  # fmt: skip
    if source == "example":
        st.caption("48 drawn faces, 24 happy and 24 sad, of different sizes: a first try without files of your own. "
                   "Download the zip to see the layout yours needs.")
        left, right = st.columns(2)
        if left.button("Use the example set", key="ds_use_example", icon=":material/mood:"):
            _read(lambda: read_zip(_example()), "The example set")
        right.download_button("Download the example zip", _example(), "faces.zip", "application/zip",
                              key="ds_example_download", on_click="ignore")
    elif source == "zip":
        file = st.file_uploader("A zip of class folders", type=["zip"], key="ds_zip", help=LIMITS,
                                max_upload_size=ZIP_MB)
        if file is None:
            st.session_state.pop(ERROR, None)  # the refused zip was removed
        if file is not None and file.file_id not in st.session_state.setdefault(SEEN, set()):
            st.session_state[SEEN].add(file.file_id)
            _read(lambda: _read_zip(file.getvalue()), f"**{plain(file.name)}**")
    else:
        class_by_class_ui()
    if ERROR in st.session_state:
        st.error(st.session_state[ERROR])
    images = st.session_state.get(MY_IMAGES)
    if images is not None:
        counts = ", ".join(f"{plain(name)} {n:,}" for name, n in zip(images.classes, images.counts))
        notices = "".join(f"\n- {plain(notice)}." for notice in images.notices())
        st.caption(f":material/photo_library: In use: {len(images.labels):,} images ({counts}).{notices}")
    return images


def class_by_class_ui() -> None:
    """Name each class, drop its files and/or take pictures; then make the dataset from them."""
    n = st.columns(4)[0].number_input("Classes", 2, MAX_CLASSES, 2, key="ds_n_classes",
                                      help="How many classes to tell apart.")
    shots = st.session_state.setdefault(CAMERA, {})
    names, files = [], {}
    for i in range(n):
        left, right = st.columns([1, 3])
        names.append(left.text_input(f"Name of class {i + 1}", f"class {i + 1}", key=f"ds_class_name_{i}",
                                     max_chars=40, help="The label the network learns for these images."))
        files[i] = right.file_uploader(f"Images of class {i + 1}", type=IMAGE_TYPES, accept_multiple_files=True,
                                       key=f"ds_class_files_{i}", help=LIMITS, max_upload_size=FILE_MB)
        if shots.get(i):
            right.caption(f"+ {count(len(shots[i]), 'camera picture')}")
    with st.expander("Take pictures with your camera", icon=":material/photo_camera:"):
        target = st.selectbox("Class of the next picture", range(n), format_func=lambda i: names[i], key="ds_camera_class",
                              help="Each picture you take is added to this class.")
        photo = st.camera_input("Camera", key="ds_camera", help="Take several pictures per class, from "
                                "different angles and distances: the network learns from the variety.")
        if photo is not None and photo.file_id not in st.session_state.setdefault(SEEN, set()):
            st.session_state[SEEN].add(photo.file_id)
            shots.setdefault(target, []).append((f"camera-{photo.file_id}.jpg", photo.getvalue()))
            st.rerun()  # show the new count beside its class
        if shots and st.button("Forget the camera pictures", key="ds_camera_forget"):
            shots.clear()
            st.rerun()
    if st.button("Make the dataset from these images", type="primary", key="ds_make_classes"):
        chosen = {names[i]: [(f.name, f.getvalue()) for f in files[i] or []] + shots.get(i, []) for i in range(n)}
        _read(lambda: from_files(chosen), "These images")


def images_zip(images: ImageSet) -> bytes:
    """An image set as a zip of class folders (PNGs as stored): uploading it again gives the same digest."""
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i, (pixels, label) in enumerate(zip(images.images, images.labels)):
            png = io.BytesIO()
            Image.fromarray(pixels).save(png, "PNG")
            zf.writestr(f"{images.classes[label]}/{i:05d}.png", png.getvalue())
    return buf.getvalue()


def ask_for_images(exc: MissingImages) -> None:
    """A model made from images this session doesn't hold: ask for them, and take them if they match."""
    st.warning(f"This model's dataset can't be rebuilt yet: {plain(exc)}.")
    file = st.file_uploader("The zip of those images", type=["zip"], key="my_images_again", max_upload_size=ZIP_MB,
                            help="The zip you made the dataset from, or the one the Dataset page's *Download your "
                            "images* gave you. " + LIMITS)  # fmt: skip
    if file is None:
        return
    try:
        images = _read_zip(file.getvalue())
    except ValueError as exc2:
        st.error(f"**{plain(file.name)}** can't be used: {plain(exc2)}.")
        return
    if images.digest != exc.digest:
        st.error(f"**{plain(file.name)}** holds other images (digest {images.digest[:12]}…, classes "
                 f"{plain(', '.join(images.classes))}) than this model was trained on (digest {exc.digest[:12]}…).")
        return
    try:
        keep_my_images(images)
    except ValueError as exc3:  # the server's store can't be written now (a full disk…)
        st.error(f"**{file.name}** can't be kept: {exc3}.")
        return
    st.rerun()
