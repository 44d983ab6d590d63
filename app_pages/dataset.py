import streamlit as st

from cnn_core.data import config as data
from cnn_core.data.config import DataConfig
from cnn_core.data.image_set import ImageSet, folder_config
from cnn_core.data.stats import split_warnings
from ui import data_views as views
from ui.echo import plain
from ui.lesson.presenting import intro
from ui.my_images import images_zip, my_images_ui
from ui.reset import reset_button
from ui.state import DATA_CONFIG, build_dataset, seed_widget

FIELDS = ("dataset", "classes", "n_per_class", "size", "noise", "position_jitter", "scale_jitter", "rotation",
          "color_mode", "clutter", "val_fraction", "test_fraction", "seed", "image_mode")  # fmt: skip
NAMES = {"shapes": "Synthetic shapes", "digits": "Handwritten digits (8×8)", "folder": "My images"}
ss = st.session_state


def _seed_widgets(values: dict, overwrite: bool = False) -> None:
    for field in FIELDS:
        value = list(values[field]) if isinstance(values[field], tuple) else values[field]
        if overwrite:
            ss[f"ds_{field}"] = value
        else:
            seed_widget(f"ds_{field}", value)


def _on_dataset_change() -> None:
    """A new dataset starts from its own defaults (its classes, size and noise differ)."""
    _seed_widgets(data.default_values(ss.ds_dataset), overwrite=True)


def dataset_ui() -> str:
    st.sidebar.header("Dataset settings")
    return st.sidebar.selectbox("Dataset", list(NAMES), key="ds_dataset", on_change=_on_dataset_change,
                                format_func=NAMES.get,
                                help="Shapes are drawn on the fly, so you control how hard they are. Digits are 1,797 "
                                "real 8×8 scans that ship with scikit-learn, all written by the same 13 people. My "
                                "images: pictures of your own, from a zip, file uploads or your camera.")  # fmt: skip


DIGITS_CAVEAT = ("The 1,797 digits were all written by the same 13 people (scikit-learn's copy of the UCI set's test "
                 "part). A random split puts each writer's digits in training *and* in test, so the test accuracy "
                 "says how well the model knows these 13 hands: expect it to flatter how it would do on a new "
                 "writer's digits.")  # fmt: skip


def data_config_ui(name: str, images: ImageSet | None) -> dict:
    """The sidebar's knobs; returns the DataConfig fields they set."""
    sb, shapes, folder = st.sidebar, name == "shapes", name == "folder"
    if folder:  # the knobs show before any images come, so that they keep their values
        most = max(images.counts) if images else 1
        if images and ss.get("ds_folder_digest") != images.digest:  # new images: all of them, at first
            ss.ds_folder_digest, ss.ds_n_per_class = images.digest, most
        ss.ds_n_per_class = min(ss.ds_n_per_class, most)
        if images:
            sb.caption(f"Classes: {plain(', '.join(images.classes))} (in alphabetical order).")
    else:
        most = 5000 if shapes else data.DIGITS_PER_CLASS
        sb.multiselect("Classes", data.SHAPE_CLASSES if shapes else data.DIGIT_CLASSES, key="ds_classes",
                       help="Which classes to include, in label order. More classes make the task harder.")
    help_n = {"shapes": "", "digits": f" Each digit has 174 to {data.DIGITS_PER_CLASS} scans: the most means all.",
              "folder": " The first ones of each class, in a fixed order; the most means all."}[name]  # fmt: skip
    sb.number_input("Images per class", 1, most, key="ds_n_per_class", disabled=folder and images is None,
                    help="More images give the network more to learn from, and take longer to train on." + help_n)
    sb.slider("Image size (pixels)", *data.SIZE_RANGE[name], key="ds_size",
              help="Height and width of each image." + {"shapes": "", "digits": " Digits are upscaled bilinearly.",
                                                        "folder": " Your images are cropped to a centred square "
                                                        "and resized."}[name])  # fmt: skip
    if folder:
        sb.radio("Colours", data.IMAGE_MODES, key="ds_image_mode", horizontal=True,
                 format_func={"colour": "colour (3 channels)", "grey": "grey (1 channel)"}.get,
                 help="Grey images are a third of the numbers: faster to train, but colour can no longer help.")
    sb.slider("Pixel noise (σ)", 0.0, 0.5, step=0.01, key="ds_noise",
              help="Standard deviation of Gaussian noise added to every pixel, then clipped to [0, 1].")
    if not folder:
        harder_ui(shapes)
    with sb.expander("Split and seed", expanded=False):
        st.slider("Validation share", 0.0, 0.45, step=0.05, key="ds_val_fraction",
                  help="Held out of training to tune and stop training honestly.")
        st.slider("Test share", 0.0, 0.45, step=0.05, key="ds_test_fraction",
                  help="Held out until the end, for the Evaluation page.")
        st.number_input("Seed", 0, 2**31 - 1, key="ds_seed", help="The same seed gives the same images and split.")
    values = {field: ss[f"ds_{field}"] for field in FIELDS}
    values["classes"] = tuple(values["classes"])
    values["rotation"] = float(values["rotation"])
    return values


def harder_ui(shapes: bool) -> None:
    with st.sidebar.expander("Make it harder", expanded=False):
        st.slider("Position jitter", 0.0, 0.5, step=0.05, key="ds_position_jitter", disabled=not shapes,
                  help="How far a shape's centre may move, as a fraction of the image size.")
        st.slider("Scale jitter", 0.0, 0.5, step=0.05, key="ds_scale_jitter", disabled=not shapes,
                  help="0.3 lets a shape grow or shrink by up to 30%.")
        st.slider("Rotation (degrees)", 0, 180, step=5, key="ds_rotation", disabled=not shapes,
                  help="Each shape turns by a random angle up to this, either way. The diagonal and the stripes "
                  "turn at most 30°: further, a diagonal stops being diagonal and horizontal stripes become "
                  "vertical ones, so the class would change.")  # fmt: skip
        st.radio("Colour", ("per_class", "random"), key="ds_color_mode", disabled=not shapes, horizontal=True,
                 format_func={"per_class": "one per class", "random": "random"}.get,
                 help="With one colour per class, colour alone gives the answer away. Random colours force "
                 "the network to learn the shapes.")
        st.slider("Clutter", 0, 10, key="ds_clutter", disabled=not shapes,
                  help="Small distractor blobs of random colour drawn under the shape.")


def make_config(values: dict, images: ImageSet | None) -> DataConfig:
    """The widgets' values as a DataConfig; an empty class list is an error here, not the defaults."""
    if images is not None:
        keep = ("n_per_class", "size", "noise", "val_fraction", "test_fraction", "seed", "image_mode")
        return folder_config(images, **{k: values[k] for k in keep})
    if not values["classes"]:
        raise ValueError(data.TWO_CLASSES)  # () would mean the dataset's default classes
    values = {k: v for k, v in values.items() if k != "image_mode"}
    return DataConfig(**values)


st.title("Dataset")
reset_button("ds_", also=(DATA_CONFIG, "dataset"))
intro(
    "A CNN learns from examples. Here you make them: **synthetic shapes** whose difficulty you control, "
    "**real handwritten digits**, or **your own images**. Change the settings on the left; everything below updates."
)
saved = ss.get(DATA_CONFIG) or DataConfig()
_seed_widgets(saved.to_dict())
name = dataset_ui()
if name == "digits":
    st.sidebar.caption(DIGITS_CAVEAT)
images = my_images_ui() if name == "folder" else None
values = data_config_ui(name, images)
if name == "folder" and images is None:
    st.info(f"Bring at least two classes of images above. Until then the other pages keep the last dataset "
            f"({NAMES[saved.dataset].lower()}).")  # fmt: skip
    st.stop()
try:
    config = make_config(values, images)
    ds = build_dataset(config)
except ValueError as exc:
    st.error(f"{plain(str(exc)[0].upper() + str(exc)[1:])}. Still showing the last dataset that worked.")
    try:
        ds = build_dataset(saved)
    except ValueError:  # your images of then are no longer this session's
        ds = build_dataset(DataConfig())
for warning in split_warnings(ds):
    st.warning(warning)
views.draw_tabs(ds)
views.draw_download(ds)
if images is not None and ds.config.dataset == "folder":
    st.download_button("Download your images (.zip)", lambda: images_zip(images), "my-images.zip", "application/zip",
                       on_click="ignore", key="ds_my_images_download",
                       help="Your images as the app keeps them (squares of 128 pixels, PNG), one folder per class. "
                       "Upload this zip again to rebuild the same dataset, or to evaluate a model trained on it.")
