import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from cnn_core.data import DIGIT_CLASSES, DIGITS_PER_CLASS, SHAPE_CLASSES, SIZE_RANGE, DataConfig, ImageDataset
from ui.plots import CHANNEL_COLOURS, CHANNEL_NAMES, class_colour, compact, display_scale, to_display
from ui.state import DATA_CONFIG, build_dataset, seed_widget

FIELDS = ("dataset", "classes", "n_per_class", "size", "noise", "position_jitter", "scale_jitter",
          "rotation", "color_mode", "clutter", "val_fraction", "test_fraction", "seed")  # fmt: skip
SAMPLES_PER_CLASS = 8


def _seed_widgets(cfg: DataConfig, overwrite: bool = False) -> None:
    for field in FIELDS:
        value = getattr(cfg, field)
        value = list(value) if isinstance(value, tuple) else value
        if overwrite:
            st.session_state[f"ds_{field}"] = value
        else:
            seed_widget(f"ds_{field}", value)


def _on_dataset_change() -> None:
    """A new dataset starts from its own defaults (its classes, size and noise differ)."""
    _seed_widgets(DataConfig(dataset=st.session_state.ds_dataset), overwrite=True)


def data_config_ui() -> dict:
    """The sidebar's knobs; returns the DataConfig fields they set."""
    sb = st.sidebar
    sb.header("Dataset settings")
    name = sb.selectbox("Dataset", ("shapes", "digits"), key="ds_dataset", on_change=_on_dataset_change,
                        format_func={"shapes": "Synthetic shapes", "digits": "Handwritten digits (8×8)"}.get,
                        help="Shapes are drawn on the fly, so you control how hard they are. Digits are 1,797 "
                        "real 8×8 scans that ship with scikit-learn.")
    shapes = name == "shapes"
    sb.multiselect("Classes", SHAPE_CLASSES if shapes else DIGIT_CLASSES, key="ds_classes",
                   help="Which classes to include, in label order. More classes make the task harder.")
    sb.number_input("Images per class", 1, 5000 if shapes else DIGITS_PER_CLASS, key="ds_n_per_class",
                    help="More images give the network more to learn from, and take longer to train on."
                    + ("" if shapes else f" Each digit has 174 to {DIGITS_PER_CLASS} scans: the most means all."))
    sb.slider("Image size (pixels)", *SIZE_RANGE[name], key="ds_size",
              help="Height and width of each image." + ("" if shapes else " Digits are upscaled bilinearly."))
    sb.slider("Pixel noise (σ)", 0.0, 0.5, step=0.01, key="ds_noise",
              help="Standard deviation of Gaussian noise added to every pixel, then clipped to [0, 1].")
    with sb.expander("Make it harder", expanded=False):
        st.slider("Position jitter", 0.0, 0.5, step=0.05, key="ds_position_jitter", disabled=not shapes,
                  help="How far a shape's centre may move, as a fraction of the image size.")
        st.slider("Scale jitter", 0.0, 0.5, step=0.05, key="ds_scale_jitter", disabled=not shapes,
                  help="0.3 lets a shape grow or shrink by up to 30%.")
        st.slider("Rotation (degrees)", 0, 180, step=5, key="ds_rotation", disabled=not shapes,
                  help="Each shape turns by a random angle up to this, either way.")
        st.radio("Colour", ("per_class", "random"), key="ds_color_mode", disabled=not shapes, horizontal=True,
                 format_func={"per_class": "one per class", "random": "random"}.get,
                 help="With one colour per class, colour alone gives the answer away. Random colours force "
                 "the network to learn the shapes.")
        st.slider("Clutter", 0, 10, key="ds_clutter", disabled=not shapes,
                  help="Small distractor blobs of random colour drawn under the shape.")
    with sb.expander("Split and seed", expanded=False):
        st.slider("Validation share", 0.0, 0.45, step=0.05, key="ds_val_fraction",
                  help="Held out of training to tune and stop training honestly.")
        st.slider("Test share", 0.0, 0.45, step=0.05, key="ds_test_fraction",
                  help="Held out until the end, for the Evaluation page.")
        st.number_input("Seed", 0, 2**31 - 1, key="ds_seed", help="The same seed gives the same images and split.")
    values = {field: st.session_state[f"ds_{field}"] for field in FIELDS}
    values["classes"] = tuple(values["classes"])
    values["rotation"] = float(values["rotation"])
    return values


@st.cache_data(max_entries=16, show_spinner=False)
def _class_means(config: DataConfig, _ds: ImageDataset) -> np.ndarray:
    """(K, C, H, W) mean image of each class over the training split."""
    images, labels = _ds.split("train")
    return np.stack([images[labels == k].mean(axis=0) for k in range(_ds.num_classes)])


@st.cache_data(max_entries=16, show_spinner=False)
def _histograms(config: DataConfig, _ds: ImageDataset, bins: int = 50) -> np.ndarray:
    """(C, bins) counts of pixel values per channel over the whole dataset."""
    q = np.minimum((_ds.images * bins).astype(np.int64), bins - 1)
    return np.stack([np.bincount(q[:, c].ravel(), minlength=bins) for c in range(q.shape[1])])


def draw_summary(ds: ImageDataset) -> None:
    c, h, w = ds.input_shape
    cols = st.columns(6)
    cols[0].metric("Images", f"{len(ds.labels):,}", help=f"{ds.images.nbytes / 2**20:.1f} MB as float32")
    cols[1].metric("Image shape", f"{c}×{h}×{w}", help="Channels × height × width of one image.")
    cols[2].metric("Classes", ds.num_classes)
    for col, (split, label) in zip(cols[3:], (("train", "Train"), ("val", "Validation"), ("test", "Test"))):
        col.metric(label, len(ds.splits[split]))


def draw_gallery(ds: ImageDataset) -> None:
    st.caption("A few images of every class, enlarged with square pixels so you see exactly what the network sees.")
    scale = display_scale(ds.input_shape[1], 80)
    for k, name in enumerate(ds.classes):
        idx = np.flatnonzero(ds.labels == k)[:SAMPLES_PER_CLASS]
        st.markdown(f"<span style='color:{class_colour(k)}'>■</span> **{name}**", unsafe_allow_html=True)
        st.image([to_display(ds.images[i], scale) for i in idx], caption=[f"#{i}" for i in idx])


def draw_channels(ds: ImageDataset) -> None:
    st.caption("A colour image is a stack of channels: three grids of numbers (red, green, blue), "
               "each between 0 and 1. A convolution's kernel has one slice per channel.")
    i = st.number_input("Image number", 0, len(ds.labels) - 1, 0, key="ds_channel_image",
                        help="Any image of the dataset; numbers are shown under the gallery's images.")
    image = ds.images[i]
    names, colours = CHANNEL_NAMES[image.shape[0]], CHANNEL_COLOURS[image.shape[0]]
    left, right = st.columns([1, 3])
    left.image(to_display(image, display_scale(image.shape[1], 160)), caption=f"#{i}: {ds.classes[ds.labels[i]]}")
    fig = make_subplots(1, len(names), subplot_titles=[f"{n} channel" for n in names], horizontal_spacing=0.03)
    for j, (name, colour) in enumerate(zip(names, colours)):
        fig.add_trace(go.Heatmap(z=image[j], zmin=0, zmax=1, colorscale=[[0, "black"], [1, colour]],
                                 showscale=j == len(names) - 1, name=name,
                                 hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"), 1, j + 1)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{j + 1}", showticklabels=False, row=1, col=j + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=j + 1)
    right.plotly_chart(compact(fig, 300), key="ds_channels_chart")


def draw_balance(ds: ImageDataset) -> None:
    st.caption("How many images of each class each split holds. The split is stratified: every class "
               "keeps the same share in train, validation and test.")
    splits = ("train", "val", "test")
    fig = go.Figure()
    for k, name in enumerate(ds.classes):
        counts = [int((ds.labels[ds.splits[s]] == k).sum()) for s in splits]
        fig.add_bar(x=list(splits), y=counts, name=name, marker_color=class_colour(k), text=counts)
    fig.update_layout(barmode="group", yaxis_title="images", legend_title="class")
    st.plotly_chart(compact(fig, 320), key="ds_balance_chart")


def draw_histograms(ds: ImageDataset) -> None:
    st.caption("How often each pixel value occurs, per channel. The spike at 0 is the dark background; "
               "noise spreads it out. The y axis is logarithmic so that rare values stay visible.")
    counts = _histograms(ds.config, ds)
    bins = counts.shape[1]
    centres = (np.arange(bins) + 0.5) / bins
    names, colours = CHANNEL_NAMES[counts.shape[0]], CHANNEL_COLOURS[counts.shape[0]]
    fig = go.Figure()
    for j, (name, colour) in enumerate(zip(names, colours)):
        fig.add_scatter(x=centres, y=counts[j], name=name, mode="lines", line=dict(color=colour, shape="hvh"))
    fig.update_layout(xaxis_title="pixel value", yaxis_title="pixels", yaxis_type="log")
    st.plotly_chart(compact(fig, 320), key="ds_hist_chart")


def draw_means(ds: ImageDataset) -> None:
    means = _class_means(ds.config, ds)
    st.caption("The average training image of each class. If the averages differ only by colour, a network "
               "can score perfectly by reading the colour and never learn the shape: set *Colour* to "
               "*random* under *Make it harder* and watch the averages turn grey.")
    scale = display_scale(ds.input_shape[1], 110)
    st.image([to_display(m, scale) for m in means], caption=list(ds.classes))


st.title("Dataset")
st.markdown(
    "A CNN learns from examples. Here you make them: **synthetic shapes** whose difficulty you control, or "
    "**real handwritten digits**. Change the settings on the left; everything below updates."
)
saved = st.session_state.get(DATA_CONFIG) or DataConfig()
_seed_widgets(saved)
values = data_config_ui()
try:
    config = DataConfig(**values)
    ds = build_dataset(config)
except ValueError as exc:
    st.error(f"{exc}. Still showing the last dataset that worked.")
    ds = build_dataset(saved)

draw_summary(ds)
tabs = st.tabs(["Samples", "Channels", "Class balance", "Pixel values", "Class averages"])
with tabs[0]:
    draw_gallery(ds)
with tabs[1]:
    draw_channels(ds)
with tabs[2]:
    draw_balance(ds)
with tabs[3]:
    draw_histograms(ds)
with tabs[4]:
    draw_means(ds)
st.download_button("Download as .npz", data=ds.to_npz, file_name=f"{ds.config.dataset}-{ds.config.key()}.npz",
                   mime="application/octet-stream", on_click="ignore",
                   help="NumPy arrays: images (N, C, H, W) float32 in [0, 1], labels, classes, the split "
                   "indices and the config. Load with numpy.load().")
