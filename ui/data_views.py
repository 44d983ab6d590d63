"""The Dataset page's drawings: summary, gallery, channels, balance, pixel histograms and class means."""

from __future__ import annotations

import base64
from html import escape

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import ImageDataset
from cnn_core.data.stats import class_means, pixel_histograms, split_counts
from cnn_core.nets.shapes import shape_text
from ui.echo import plain
from ui.plots import CHANNEL_COLOURS, CHANNEL_NAMES, class_colour, compact, display_scale, png, tile

SAMPLES_PER_CLASS = 8
SPLIT_LABELS = {"train": "Train", "val": "Validation", "test": "Test"}
# What a rerun draws depends only on the dataset's config (a content key: a folder dataset's config carries its
# images' digest) and the widget beside it, so the encoded images and built figures are shared by every session:
# a change elsewhere on the page re-encodes and rebuilds nothing, and an unchanged figure is sent as the same spec
# (Streamlit then sends a reference to the copy the browser holds). Figures are shared objects, never changed
# after they are built (st.plotly_chart reads them through Figure.to_dict, a copy).


@st.cache_data(max_entries=16, show_spinner=False)
def _class_mean_pngs(config: DataConfig, _ds: ImageDataset) -> list[bytes]:
    scale = display_scale(_ds.input_shape[1], 110)
    return [png(tile(m, scale)) for m in class_means(_ds)]


@st.cache_resource(max_entries=16, show_spinner=False)
def _histogram_chart(config: DataConfig, _ds: ImageDataset) -> go.Figure:
    return histogram_figure(pixel_histograms(_ds))


def draw_summary(ds: ImageDataset) -> None:
    cols = st.columns(6)
    cols[0].metric("Images", f"{len(ds.labels):,}", help=f"{ds.images.nbytes / 2**20:.1f} MB as float32")
    cols[1].metric("Image shape", shape_text(ds.input_shape), help="Channels × height × width of one image.")
    cols[2].metric("Classes", f"{ds.num_classes:,}")
    for col, (split, label) in zip(cols[3:], SPLIT_LABELS.items()):
        col.metric(label, f"{len(ds.splits[split]):,}")


@st.cache_data(max_entries=16, show_spinner=False)
def gallery_pngs(config: DataConfig, _ds: ImageDataset) -> list[tuple[np.ndarray, list[bytes]]]:
    """Per class, the sample images' numbers and their PNG tiles."""
    scale = display_scale(_ds.input_shape[1], 80)
    rows = []
    for k in range(_ds.num_classes):
        idx = np.flatnonzero(_ds.labels == k)[:SAMPLES_PER_CLASS]
        rows.append((idx, [png(tile(_ds.images[i], scale)) for i in idx]))
    return rows


GALLERY_CSS = """<style>
.cnn-gallery-class { margin: 0.6rem 0 0.2rem; font-weight: 600; }
.cnn-gallery { display: flex; flex-wrap: wrap; gap: 0.25rem 0.5rem; }
.cnn-gallery figure { margin: 0; text-align: center; }
.cnn-gallery img { display: block; image-rendering: pixelated; }
.cnn-gallery figcaption { font-size: 0.8rem; color: color-mix(in srgb, currentColor 60%, transparent); }
</style>"""


@st.cache_data(max_entries=16, show_spinner=False)
def gallery_html(config: DataConfig, _ds: ImageDataset) -> str:
    """The gallery as one HTML element: per class, its name in the class's colour and its sample tiles as inline PNGs
    (data URIs) numbered under each. One message instead of a file fetch per tile: a change of the dataset shows
    its new images with the page, and the server answers no request per image (a class changes it thirty times)."""
    parts = []
    for k, (name, (idx, tiles)) in enumerate(zip(_ds.classes, gallery_pngs(config, _ds))):
        figures = "".join(f'<figure><img src="data:image/png;base64,{base64.b64encode(t).decode()}" alt="#{i:,}">'
                          f"<figcaption>#{i:,}</figcaption></figure>" for i, t in zip(idx, tiles))
        parts.append(f'<div class="cnn-gallery-class"><span style="color:{class_colour(k)}">■</span> '
                     f'{escape(str(name))}</div><div class="cnn-gallery">{figures}</div>')
    return GALLERY_CSS + "".join(parts)


def draw_gallery(ds: ImageDataset) -> None:
    st.caption("A few images of every class, enlarged with square pixels so you see exactly what the network sees.")
    st.html(gallery_html(ds.config, ds))


@st.fragment  # the image number changes only this tab: its change reruns and resends this, not the whole page
def draw_channels(ds: ImageDataset) -> None:
    if ds.input_shape[0] == 3:
        st.caption("A colour image is a stack of channels: three grids of numbers (red, green, blue), "
                   "each between 0 and 1. A convolution's kernel has one slice per channel. Each channel is drawn "
                   "alone below, from black (0) to its full colour (1).")
    else:
        st.caption("A grey image is one grid of numbers between 0 (black) and 1 (white): one channel.")
    i = st.number_input("Image number", 0, len(ds.labels) - 1, 0, key="ds_channel_image",
                        help="Any image of the dataset; numbers are shown under the gallery's images.")
    image = ds.images[i]
    width, (whole, *channels) = channel_pngs(ds.config, i, ds)
    names = CHANNEL_NAMES[image.shape[0]]
    left, right = st.columns([1, 3])
    left.image(whole, caption=f"#{i:,}: {plain(ds.classes[ds.labels[i]])}", width=width)
    right.image(channels, width=width, caption=[f"{name} channel: {image[j].min():.2f} to {image[j].max():.2f}"
                                   for j, name in enumerate(names)])


def channel_tiles(image: np.ndarray, scale: int) -> list[np.ndarray]:
    """Each channel of a (C, H, W) image as a picture of its own: that channel alone (the others set to 0), so red
    goes from black at 0 to pure red at 1; a single channel is the grey image itself."""
    if image.shape[0] == 1:
        return [tile(image, scale)]
    alone = np.zeros((image.shape[0], *image.shape), dtype=image.dtype)
    for j in range(image.shape[0]):
        alone[j, j] = image[j]
    return [tile(a, scale) for a in alone]


@st.cache_data(max_entries=32, show_spinner=False)
def channel_pngs(config: DataConfig, i: int, _ds: ImageDataset) -> tuple[int, list[bytes]]:
    """The pictures' width, and image i as PNG bytes, then each of its channels (a content key: shared by every
    session). Shown at that width, a caption wider than its picture wraps instead of stretching it."""
    image = _ds.images[i]
    scale = display_scale(image.shape[1], 160)
    tiles = [tile(image, scale), *channel_tiles(image, scale)]
    return tiles[0].shape[1], [png(t) for t in tiles]


def draw_balance(ds: ImageDataset) -> None:
    st.caption("How many images of each class each split holds. The split is stratified: every class "
               "keeps the same share in train, validation and test.")
    st.plotly_chart(balance_figure(ds.config, ds), key="ds_balance_chart")


@st.cache_resource(max_entries=16, show_spinner=False)
def balance_figure(config: DataConfig, _ds: ImageDataset) -> go.Figure:
    ds, counts = _ds, split_counts(_ds)
    fig = go.Figure()
    for k, name in enumerate(ds.classes):
        per_split = [counts[s][k] for s in SPLIT_LABELS]
        fig.add_bar(x=list(SPLIT_LABELS.values()), y=per_split, name=name, marker_color=class_colour(k),
                    text=[f"{n:,}" for n in per_split])
    fig.update_layout(barmode="group", yaxis_title="images", legend_title="class")
    return compact(fig, 320)


def histogram_figure(counts: np.ndarray) -> go.Figure:
    """Pixel-value counts per channel on a log axis labelled only at powers of ten (1, 10, 100, 1k…)."""
    bins = counts.shape[1]
    centres = (np.arange(bins) + 0.5) / bins
    names, colours = CHANNEL_NAMES[counts.shape[0]], CHANNEL_COLOURS[counts.shape[0]]
    fig = go.Figure()
    for j, (name, colour) in enumerate(zip(names, colours)):
        fig.add_scatter(x=centres, y=counts[j], name=name, mode="lines", line=dict(color=colour, shape="hvh"),
                        hovertemplate="pixel value %{x:.2f}: %{y:,} pixels<extra></extra>")
    fig.update_layout(xaxis_title="pixel value", yaxis_title="pixels (log scale)")
    fig.update_yaxes(type="log", dtick=1, tickformat=",d", minor=dict(ticks="inside", showgrid=False))
    return compact(fig, 320)


def draw_histograms(ds: ImageDataset) -> None:
    st.caption("How often each pixel value occurs, per channel. The spike at 0 is the dark background; "
               "noise spreads it out. The y axis is logarithmic (each grid line is ten times the one below) so "
               "that rare values stay visible.")
    st.plotly_chart(_histogram_chart(ds.config, ds), key="ds_hist_chart")


def draw_means(ds: ImageDataset) -> None:
    st.caption("The average training image of each class. If the averages differ only by colour, a network "
               "can score perfectly by reading the colour and never learn the shape: set *Colour* to "
               "*random* under *Make it harder* and watch the averages turn grey.")
    st.image(_class_mean_pngs(ds.config, ds), caption=list(ds.classes))


TABS = {"Samples": draw_gallery, "Channels": draw_channels, "Class balance": draw_balance,
        "Pixel values": draw_histograms, "Class averages": draw_means}  # fmt: skip


def draw_tabs(ds: ImageDataset) -> None:
    """The summary metrics, then one tab per view; only the open tab is computed and sent."""
    draw_summary(ds)
    for tab, draw in zip(st.tabs(list(TABS), key="ds_tab", on_change="rerun"), TABS.values()):
        if tab.open:
            with tab:
                draw(ds)


def draw_download(ds: ImageDataset) -> None:
    st.download_button("Download as .npz", data=ds.to_npz, file_name=f"{ds.config.dataset}-{ds.config.key()}.npz",
                       mime="application/octet-stream", on_click="ignore",
                       help="NumPy arrays: images (N, C, H, W) float32 in [0, 1], labels, classes, the split "
                       "indices and the config. Load with numpy.load().")  # fmt: skip
