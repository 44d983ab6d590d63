import numpy as np
import pandas as pd
import streamlit as st

from cnn_core.conv import ops
from cnn_core.conv.images import CHANNEL_MODES, load_image, pick_channels, sample_image
from cnn_core.conv.kernels import MAX_KERNEL, PRESETS, parse_kernel, preset
from ui.conv_views import (
    draw_channel_sums,
    draw_formulas,
    draw_gallery,
    draw_input,
    draw_pool_formulas,
    draw_pooling,
    draw_products,
    draw_triptych,
    draw_window,
)
from ui.echo import plain
from ui.lesson.presenting import intro
from ui.plots import CHANNEL_NAMES, display_scale
from ui.reset import reset_button
from ui.state import current_dataset

SOURCES = ("Built-in sample", "Dataset image", "Upload")
CUSTOM = "Custom"
PADDINGS = (0, 1, 2, 3, 4, 5, "same")
TABS = ("Convolution", "Step by step", "Channels", "All kernels", "Pooling")
# Play speeds: (seconds between steps, output positions per step). A 64×64 map has 4,096 positions:
# one at a time suits a close look at a few; a row at a time crosses the whole image in a minute.
SPEEDS = {"slow": (1.0, 1), "fast": (0.25, 1), "a row at a time": (0.5, "row")}


@st.cache_data(max_entries=8, show_spinner=False)
def _uploaded(data: bytes) -> tuple[np.ndarray, str | None]:
    return load_image(data)


def _weights(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """(1, C, k, k) weights: the same kernel slice on each of the image's channels."""
    return np.broadcast_to(kernel, (1, image.shape[0], *kernel.shape))


@st.cache_data(max_entries=32, show_spinner=False)
def _convolve(image: np.ndarray, kernel: np.ndarray, stride: int, padding, dilation: int) -> np.ndarray:
    """(H_out, W_out) map of one kernel, the same slice on every input channel."""
    return ops.conv2d(image, _weights(image, kernel), stride, padding, dilation)[0]


@st.cache_data(max_entries=8, show_spinner=False)
def _all_presets(image: np.ndarray) -> dict[str, np.ndarray]:
    return {name: _convolve(image, preset(name), 1, "same", 1) for name in PRESETS}


def image_ui() -> np.ndarray:
    """The sidebar's image choice; returns a (C, H, W) image in [0, 1]."""
    sb = st.sidebar
    sb.header("Image")
    source = sb.radio("Source", SOURCES, key="conv_source",
                      help="A generated scene with clear edges, an image of the current dataset, or your own picture.")
    image = sample_image()
    if source == "Dataset image":
        ds = current_dataset()
        i = sb.number_input("Image number", 0, len(ds.labels) - 1, 0, key="conv_index",
                            help="Any image of the dataset chosen on the Dataset page.")
        image = ds.images[i]
        sb.caption(f"Image #{i}: {plain(ds.classes[ds.labels[i]])}, {image.shape[1]}×{image.shape[2]} pixels")
    elif source == "Upload":
        file = sb.file_uploader("PNG or JPEG image", type=["png", "jpg", "jpeg"], key="conv_upload",
                                help="Images larger than 128 pixels on a side are shrunk to 128.")
        if file is None:
            sb.info("Upload an image; until then the built-in sample is shown.")
        else:
            try:
                image, notice = _uploaded(file.getvalue())
                if notice:
                    sb.warning(notice)
            except ValueError as exc:
                st.error(f"Cannot use {plain(file.name)}: {plain(exc)}. Showing the built-in sample instead.")
    mode = sb.radio("Channels", CHANNEL_MODES, key="conv_channels", index=1, horizontal=True,
                    help="Colour keeps the red, green and blue channels (the kernel then has one slice per "
                    "channel); the others keep a single channel.")
    return pick_channels(image, mode)


def kernel_ui() -> tuple[object, dict, bool]:
    """The sidebar's kernel and settings; returns the kernel's cells, conv2d's settings and whether to apply ReLU."""
    sb = st.sidebar
    sb.header("Kernel")
    name = sb.selectbox("Kernel", (*PRESETS, CUSTOM), key="conv_kernel", index=1,
                        help="A classic hand-made filter, or your own numbers. A CNN learns its kernels instead.")
    if name == CUSTOM:
        k = sb.number_input("Custom size K", 1, MAX_KERNEL, 3, key="conv_custom_size",
                            help="The custom kernel is K×K; a new size starts again from the identity kernel.")
        start = np.zeros((k, k))
        start[k // 2, k // 2] = 1.0
        columns = [str(j + 1) for j in range(k)]
        number = st.column_config.NumberColumn(help="Click a cell and type a number; every cell needs one.")
        sb.caption("Your kernel: click a cell and type a number.")
        cells = sb.data_editor(pd.DataFrame(start, columns=columns), key=f"conv_grid_{k}", hide_index=True,
                               column_config=dict.fromkeys(columns, number)).to_numpy()
    else:
        cells = preset(name)
        sb.caption(PRESETS[name][1])
    stride = sb.number_input("Stride", 1, 8, 1, key="conv_stride",
                             help="How many pixels the window moves each step. 2 halves the output size.")
    padding = sb.selectbox("Padding", PADDINGS, index=1, key="conv_padding",
                           help="Rings of zeros around the input, so the window can centre on edge pixels. "
                           "'same' pads just enough to keep the size (stride 1 only).")
    dilation = sb.number_input("Dilation", 1, 4, 1, key="conv_dilation",
                               help="Spacing between the pixels the kernel reads: 2 spreads a 3×3 kernel over 5×5.")
    relu = sb.toggle("ReLU after the convolution", key="conv_relu",
                     help="Keep positive values and set negative ones to 0, as a CNN does after each convolution.")
    return cells, dict(stride=int(stride), padding=padding, dilation=int(dilation)), relu


def step_ui(output: np.ndarray) -> tuple[int, int]:
    """The output position to explain, as row and column; Play advances it at the chosen speed."""
    h_out, w_out = output.shape
    if "conv_row" not in st.session_state:  # first visit: the strongest response
        st.session_state.conv_row, st.session_state.conv_col = map(int, np.unravel_index(np.abs(output).argmax(),
                                                                                          output.shape))
    row, col = min(st.session_state.conv_row, h_out - 1), min(st.session_state.conv_col, w_out - 1)
    if st.session_state.get("conv_play"):
        step = SPEEDS[st.session_state.get("conv_speed", "slow")][1]
        if step == "row":  # down one row; past the bottom, the next column from the top
            row, col = (row + 1, col) if row + 1 < h_out else (0, (col + 1) % w_out)
        else:  # along the row, then down, as the window slides
            row, col = divmod((row * w_out + col + step) % output.size, w_out)
    st.session_state.conv_row, st.session_state.conv_col = row, col
    left, right = st.columns(2)
    if h_out > 1:
        left.slider("Output row", 0, h_out - 1, key="conv_row", help="Which row of the output to explain (0 = top).")
    if w_out > 1:
        right.slider("Output column", 0, w_out - 1, key="conv_col",
                     help="Which column of the output to explain (0 = left). The window slides left to right, "
                     "then down a row.")
    return st.session_state.conv_row, st.session_state.conv_col


st.title("Convolution and pooling")
reset_button("conv_")
intro(
    "A **convolution** slides a small grid of numbers, the **kernel**, over the image. At each position it "
    "multiplies the pixels under the kernel by the kernel's numbers and adds the products up: one number of the "
    "output, the **feature map**. A kernel that subtracts left from right lights up vertical edges; one that "
    "averages blurs. Pick an image and a kernel on the left, then explore the tabs."
)
image = image_ui()
cells, conv, use_relu = kernel_ui()
try:
    kernel = parse_kernel(cells)
    raw = _convolve(image, kernel, **conv)
    padded = ops.pad_input(image, kernel.shape, **conv)
except ValueError as exc:
    st.error(f"Cannot convolve: {exc}. Change the setting and the page updates.")
    draw_input(image, "Input")
    st.stop()
output = ops.relu(raw) if use_relu else raw
pads = ops.conv_paddings(conv["padding"], *kernel.shape, conv["stride"], conv["dilation"])
tabs = st.tabs(TABS, key="conv_tab", on_change="rerun")

if tabs[0].open:
    with tabs[0]:
        draw_triptych(image, kernel, output, "Output after ReLU" if use_relu else "Output")
        notes = ["Red is positive, blue negative, white zero."] if output.min() < 0 else []
        notes.append("*Step by step* shows the numbers behind any pixel of the output.")
        if image.shape[0] > 1:
            notes.append("The kernel has one slice per colour channel and their results are added, so the output "
                         "is a single map (see *Channels*).")
        notes.append("The output is smaller than the input unless padding makes up for the pixels the kernel "
                     "cannot centre on:")
        st.markdown(" ".join(notes))
        draw_formulas(image.shape[1:], kernel.shape[0], conv["stride"], pads, conv["dilation"])

if tabs[1].open:
    with tabs[1]:
        st.markdown("Watch the window slide. Each output number is the sum of the window's pixels times the "
                    "kernel's numbers. Stride sets how far the window jumps; dilation spreads its pixels apart. "
                    "Move the sliders to explain any pixel: the close-up and the tables below write out its numbers.")
        play, speed = st.columns([1, 3])
        play.toggle("Play", key="conv_play", help="Step through the positions automatically; switch off to stop.")
        speed.radio("Speed", tuple(SPEEDS), key="conv_speed", horizontal=True, label_visibility="collapsed",
                    help="Slow: one position a second. Fast: four a second. A row at a time: the window jumps "
                    "down a whole row each step, so it crosses the image quickly.")

        @st.fragment(run_every=SPEEDS[st.session_state.get("conv_speed", "slow")][0]
                     if st.session_state.get("conv_play") else None)
        def step_fragment() -> None:
            row, col = step_ui(output)
            step = ops.conv_step(image, _weights(image, kernel), row, col, **conv)
            draw_window(padded, step, output, pads)
            draw_products(step, kernel, use_relu)

        step_fragment()

if tabs[2].open:
    with tabs[2]:
        st.markdown("A colour image has three channels, so the kernel has three slices, one per channel (here "
                    "each slice holds the same numbers). Each slice filters its own channel; the three results "
                    "are **added** into a single feature map. That is why one kernel gives one map, whatever "
                    "the number of input channels.")
        if image.shape[0] == 1:
            st.info("The image has one channel now: choose **colour** under *Channels* on the left to see three.")
        else:
            parts = np.stack([_convolve(image[c:c + 1], kernel, **conv) for c in range(image.shape[0])])
            draw_channel_sums(parts, CHANNEL_NAMES[image.shape[0]])

if tabs[3].open:
    with tabs[3]:
        st.markdown("Every preset on the same image, at stride 1 with 'same' padding so that each map keeps the "
                    "input's size. Red is positive, blue negative, white zero; a map that is never negative is grey.")
        draw_gallery(_all_presets(image), display_scale(image.shape[1], 160))

if tabs[4].open:
    with tabs[4]:
        st.markdown("**Pooling** shrinks a feature map: each size×size window becomes one number, its **maximum** "
                    "(keep the strongest response) or its **average**. It has no weights to learn. A CNN usually "
                    "pools after the convolution and ReLU, so here it pools the feature map above.")
        c1, c2, c3 = st.columns(3)
        kind = c1.radio("Pooling", ops.POOL_KINDS, key="conv_pool_kind", horizontal=True,
                        format_func={"max": "max", "avg": "average"}.get,
                        help="Max keeps the strongest value of each window; average smooths.")
        size = c2.number_input("Pool size", 1, 8, 2, key="conv_pool_size", help="Each window is size×size.")
        stride = c3.number_input("Pool stride", 1, 8, 2, key="conv_pool_stride",
                                 help="How far the window moves; usually equal to the size, so windows don't overlap.")
        try:
            pooled = ops.pool2d(output[None], kind, int(size), int(stride))[0]
        except ValueError as exc:
            st.error(f"Cannot pool: {exc}.")
        else:
            draw_pooling(output, pooled, {"max": "max", "avg": "average"}[kind])
            draw_pool_formulas(output.shape, int(size), int(stride))
