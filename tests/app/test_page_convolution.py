"""The Convolution page driven through AppTest: every widget, every preset, bad input."""

import io
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnn_core.conv.images import pick_channels, sample_image
from cnn_core.conv.kernels import PRESETS
from tests.app.pictures import captions, picture, record
from tests.conftest import ROOT
from tests.html_tables import page_tables
from ui.conv_views import MAP_PX, STEP_PX, WINDOW_RGB, map_to_rgb
from ui.plots import TILE_MARGIN, display_scale, tile

PAGE = str(ROOT / "app_pages" / "convolution.py")
TABS = ("Convolution", "Step by step", "Channels", "All kernels", "Pooling")


@pytest.fixture
def at():
    return AppTest.from_file(PAGE, default_timeout=30).run()


def rerun(at, **state):
    """Set widget values (by key) and session state, then run the page; it must not raise."""
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def title(at, start):
    """The bold title of the picture whose caption starts with `start` (its size, as **Output 64×64**)."""
    found = [c for c in captions(at) if c.startswith(f"**{start}")]
    assert found, f"no picture titled {start!r}: {captions(at)}"
    return found[0].split("**")[1]


def shown(at, i=0):
    """The numbers the page's i-th static table shows, as text (a grid: rows of cells)."""
    return page_tables(at)[i].text.to_numpy().tolist()


def grid(values, fmt="{:.3g}"):
    """`values` as the page writes them."""
    return [[fmt.format(v + 0.0) for v in row] for row in np.asarray(values, dtype=float)]


def reference(image, kernel, padding=1):
    """conv2d by PyTorch (cross-correlation, as a CNN's), the same kernel slice on every channel."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float64))[None]
    w = torch.as_tensor(np.asarray(kernel, dtype=np.float64)).expand(1, x.shape[1], *np.shape(kernel))
    return torch.nn.functional.conv2d(x, w, padding=padding)[0, 0].numpy()


def latex(at):
    return " ".join(el.value for el in at.latex)


def errors(at):
    return " ".join(el.value for el in at.error)


def png(width, height):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


GREY = pick_channels(sample_image(), "grey")
VERTICAL = PRESETS["Vertical edge"][0]


def test_first_visit_shows_input_kernel_output_and_the_filled_in_formula(at):
    assert not at.exception and not at.error
    assert title(at, "Input") == "Input 64×64"
    assert title(at, "Output") == "Output 64×64"
    assert "Kernel 3×3" in " ".join(c.value for c in at.caption)
    assert "64 + 2 \\cdot 1 - 1 \\cdot (3 - 1) - 1" in latex(at) and "= 64" in latex(at)
    assert "convolution" in at.markdown[0].value


def test_the_default_tab_has_no_plotly_chart_so_a_direct_load_never_loads_plotly(at):
    """Fails on the old page (three Plotly heatmaps): a browser tab loads Plotly's code for the first chart."""
    assert not at.get("plotly_chart")
    assert len(at.image) == 2 and len(page_tables(at)) == 1  # input and output pictures, the kernel's table


def test_no_tab_of_the_page_draws_a_plotly_chart(at):
    for tab in TABS:
        for channels in ("grey", "colour"):
            rerun(at, conv_tab=tab, conv_channels=channels)
            assert not at.get("plotly_chart"), (tab, channels)


def test_the_output_picture_is_the_convolution_coloured_red_positive_blue_negative(at, monkeypatch):
    """Its pixels are PyTorch's conv2d of the grey sample, coloured by map_to_rgb, at the input's enlargement."""
    media = record(monkeypatch)
    rerun(at)  # recorded from here
    expected = reference(GREY, VERTICAL)
    caption, pixels = picture(at, media, "**Output")
    assert np.abs(pixels.astype(int) - tile(map_to_rgb(expected), display_scale(64, MAP_PX))).max() <= 1
    assert f"values {expected.min():.3g} to {expected.max():.3g}" in caption
    assert f"full colour at ±{np.abs(expected).max():.3g}" in caption
    strongest = np.unravel_index(expected.argmax(), expected.shape)  # the colours mean what the caption says
    scale, row, col = display_scale(64, MAP_PX), *strongest
    red = pixels[TILE_MARGIN + row * scale + 1, TILE_MARGIN + col * scale + 1]
    assert red[0] > 150 and red[1] < 60 and red[2] < 60


def test_the_input_picture_shows_the_pixels_and_their_range(at, monkeypatch):
    media = record(monkeypatch)
    rerun(at)  # recorded from here
    caption, pixels = picture(at, media, "**Input")
    assert np.array_equal(pixels, tile(GREY, display_scale(64, MAP_PX)))
    assert f"values {GREY.min():.3g} to {GREY.max():.3g} (black 0, white 1)" in caption


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_shows_its_kernel_numbers(at, name):
    rerun(at, conv_kernel=name)
    assert shown(at) == grid(PRESETS[name][0])
    assert PRESETS[name][1] in " ".join(c.value for c in at.sidebar.caption)


def test_gaussian_5x5_shrinks_the_output_with_padding_1(at):
    rerun(at, conv_kernel="Gaussian blur 5×5")
    assert title(at, "Output") == "Output 62×62" and "= 62" in latex(at)


def test_stride_two_halves_the_output(at):
    rerun(at, conv_stride=2)
    assert title(at, "Output") == "Output 32×32" and "{2}" in latex(at)


@pytest.mark.parametrize("padding,size", [(0, 62), (2, 66), (5, 72), ("same", 64)])
def test_padding_changes_the_output_size(at, padding, size):
    rerun(at, conv_padding=padding)
    assert title(at, "Output") == f"Output {size}×{size}"


def test_dilation_two_spreads_a_3x3_kernel_over_5x5(at):
    rerun(at, conv_dilation=2)
    assert "2 \\cdot (3 - 1)" in latex(at) and title(at, "Output") == "Output 62×62"


@pytest.mark.parametrize("key", ["conv_stride", "conv_dilation"])
def test_stride_and_dilation_cannot_be_set_to_zero(at, key):
    widget = at.sidebar.number_input(key=key)
    assert widget.min == 1 and widget.value == 1


def test_same_padding_with_stride_two_is_explained_and_the_input_still_shows(at):
    rerun(at, conv_padding="same", conv_stride=2)
    assert "'same' works only with stride 1" in errors(at)
    assert captions(at) == ["**Input 64×64**: " + f"values {GREY.min():.3g} to {GREY.max():.3g} (black 0, white 1)"]


def test_relu_removes_negative_outputs(at, monkeypatch):
    media = record(monkeypatch)
    rerun(at, conv_relu=True)
    caption, pixels = picture(at, media, "**Output after ReLU")
    assert title(at, "Output") == "Output after ReLU 64×64" and "values 0 to" in caption and "black 0" in caption
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()  # grey: never negative


def edit(row, column, value):
    """data_editor edit state: one cell set, rows from 0, columns by their 1-based names."""
    return {"edited_rows": {row: {str(column): value}}, "added_rows": [], "deleted_rows": []}


def test_custom_kernel_starts_as_identity_and_takes_edited_cells(at):
    rerun(at, conv_kernel="Custom")
    assert shown(at) == grid(np.eye(3) * [0, 1, 0])
    rerun(at, conv_grid_3=edit(0, 2, 2.5))
    assert shown(at)[0] == ["0", "2.5", "0"]


@pytest.mark.parametrize("value,message", [(None, "row 1, column 2 is empty"), (math.inf, "row 1, column 2 is infinite"),
                                           (math.nan, "row 1, column 2 is empty")])
def test_bad_custom_cell_is_named_and_the_page_recovers(at, value, message):
    rerun(at, conv_kernel="Custom", conv_grid_3=edit(0, 2, value))
    assert message in errors(at)
    rerun(at, conv_grid_3=edit(0, 2, 1.0))
    assert not at.error


def test_custom_kernel_size_changes_the_grid(at):
    rerun(at, conv_kernel="Custom", conv_custom_size=5)
    assert "Kernel 5×5" in " ".join(c.value for c in at.caption) and np.shape(shown(at)) == (5, 5)
    assert at.sidebar.data_editor[0].value.shape == (5, 5)


def test_kernel_larger_than_the_padded_input_is_reported(at):
    rerun(at, conv_source="Upload")
    at.sidebar.file_uploader[0].upload("tiny.png", png(8, 8), "image/png")
    rerun(at, conv_kernel="Custom", conv_custom_size=7, conv_dilation=2)
    assert "spans 13 pixels" in errors(at)
    assert title(at, "Input") == "Input 8×8"  # the image stays in view while the setting is changed


def test_uploaded_image_is_used_and_large_ones_are_shrunk_with_a_notice(at):
    rerun(at, conv_source="Upload")
    assert "Upload an image" in at.sidebar.info[0].value
    at.sidebar.file_uploader[0].upload("wide.png", png(300, 150), "image/png")
    rerun(at)
    assert "150×300 pixels (height × width)" in at.sidebar.warning[0].value
    assert "shrunk to 64×128" in at.sidebar.warning[0].value
    assert title(at, "Input") == "Input 64×128"


def test_a_file_that_is_not_an_image_shows_an_error_and_the_sample(at):
    rerun(at, conv_source="Upload")
    at.sidebar.file_uploader[0].upload("notes.png", b"these are not pixels", "image/png")
    rerun(at)
    assert "not an image" in errors(at) and title(at, "Input") == "Input 64×64"


def test_dataset_image_is_taken_from_the_current_dataset(at):
    rerun(at, conv_source="Dataset image", conv_index=3)
    assert "Image #3" in " ".join(c.value for c in at.sidebar.caption)
    assert title(at, "Input") == "Input 32×32"


@pytest.mark.parametrize("mode", ["colour", "grey", "red", "green", "blue"])
def test_channel_choice_reaches_the_step_view(at, mode):
    rerun(at, conv_channels=mode, conv_tab="Step by step")
    n_rows = 3 if mode == "colour" else 1
    labels = [c.value for c in at.caption if re.search(r"(window|kernel|products)\**$", c.value)]
    assert len(labels) == 3 * n_rows  # window × kernel = products, per channel
    assert len(page_tables(at)) == 3 * n_rows + (n_rows == 1)  # and a one-channel close-up is a table of its numbers


def test_channels_tab_adds_each_channels_contribution_on_one_scale(at, monkeypatch):
    media = record(monkeypatch)
    rerun(at, conv_tab="Channels")
    assert "choose **colour**" in at.info[0].value
    rerun(at, conv_channels="colour")
    image = pick_channels(sample_image(), "colour")
    parts = [reference(image[c : c + 1], VERTICAL) for c in range(3)]
    total = reference(image, VERTICAL)
    assert np.allclose(sum(parts), total)
    bound = max(np.abs(m).max() for m in [*parts, total])
    scale = display_scale(64, 200)
    for start, values in (("**red**", parts[0]), ("+ **green**", parts[1]), ("+ **blue**", parts[2]),
                          ("= **the output**", total)):
        caption, pixels = picture(at, media, start)
        assert np.abs(pixels.astype(int) - tile(map_to_rgb(values, bound, True), scale)).max() <= 1, start
        assert caption.endswith(f"{values.min():.3g} to {values.max():.3g}")
    assert f"full colour at ±{bound:.3g}" in " ".join(c.value for c in at.caption)


def test_step_by_step_writes_out_the_sum_of_the_products(at):
    rerun(at, conv_tab="Step by step", conv_row=5, conv_col=9)
    expected = reference(GREY, VERTICAL)
    assert at.code[0].value.endswith(f"= {expected[5, 9]:.4f}")
    assert "row 5, column 9" in captions(at)[0]
    window, kernel, products = (shown(at, i) for i in range(1, 4))
    padded = np.pad(GREY[0], 1)
    assert window == grid(padded[5:8, 9:12])
    assert kernel == grid(VERTICAL)
    assert products == grid(padded[5:8, 9:12] * VERTICAL)


def test_step_by_step_shows_the_relu(at):
    rerun(at, conv_tab="Step by step", conv_relu=True)
    assert any("ReLU keeps positives" in m.value for m in at.markdown)


def position(at):
    return at.slider(key="conv_row").value, at.slider(key="conv_col").value


def test_play_advances_the_window_one_position_per_run_and_wraps_to_the_next_row(at):
    rerun(at, conv_tab="Step by step", conv_row=3, conv_col=62)
    rerun(at, conv_play=True)
    assert position(at) == (3, 63)
    rerun(at)
    assert position(at) == (4, 0)
    rerun(at, conv_play=False)
    assert position(at) == (4, 0)


def test_a_row_at_a_time_moves_the_window_down_one_row_per_step(at):
    rerun(at, conv_tab="Step by step", conv_row=10, conv_col=7, conv_speed="a row at a time")
    rerun(at, conv_play=True)
    assert position(at) == (11, 7)
    rerun(at, conv_row=63)
    assert position(at) == (0, 8)  # past the last row: the next column, from the top


def test_step_by_step_starts_at_the_strongest_response_and_names_row_and_column(at):
    rerun(at, conv_tab="Step by step")
    output = reference(GREY, VERTICAL)
    assert position(at) == tuple(int(i) for i in np.unravel_index(np.abs(output).argmax(), output.shape))
    assert at.slider(key="conv_row").label == "Output row" and at.slider(key="conv_col").label == "Output column"


def window_cells(table):
    """(row, column) positions of the cells whose CSS gives them a border in the window's colour."""
    colour = f"rgb{WINDOW_RGB}".replace(" ", "")
    css = table.style.to_numpy()
    return {(r, c) for r in range(css.shape[0]) for c in range(css.shape[1])
            if "border-" in css[r, c] and colour in css[r, c].replace(" ", "")}


def test_the_close_up_shows_the_window_pixels_with_their_values_and_outlines_the_window(at):
    rerun(at, conv_tab="Step by step", conv_row=5, conv_col=9)
    close_up = page_tables(at)[0]
    padded = np.pad(GREY[0], 1)
    assert list(close_up.text.index) == [str(r) for r in range(4, 9)]  # rows and columns numbered
    assert list(close_up.text.columns) == [str(c) for c in range(8, 13)]
    assert close_up.text.to_numpy().tolist() == grid(padded[4:9, 8:13], "{:.2f}")  # the window and a pixel around it
    ring = {(r, c) for r in range(1, 4) for c in range(1, 4)} - {(2, 2)}  # the 3×3 window's edge cells
    assert window_cells(close_up) == ring
    assert "rows 4–8, columns 8–12" in " ".join(c.value for c in at.caption)


def test_a_dilated_window_outlines_each_pixel_the_kernel_reads(at):
    rerun(at, conv_tab="Step by step", conv_dilation=2, conv_row=5, conv_col=9)
    reads = {(r, c) for r in (1, 3, 5) for c in (1, 3, 5)}  # the close-up starts a pixel before the window
    assert reads <= window_cells(page_tables(at)[0])


def test_the_input_picture_outlines_the_window_in_cyan(at, monkeypatch):
    media = record(monkeypatch)
    rerun(at, conv_tab="Step by step", conv_row=20, conv_col=30)
    _, pixels = picture(at, media, "**Input")
    scale = display_scale(66, STEP_PX)
    cyan = np.all(pixels[..., :3] == WINDOW_RGB, axis=-1) & (pixels[..., 3] == 255)
    rows, cols = np.flatnonzero(cyan.any(axis=1)), np.flatnonzero(cyan.any(axis=0))
    # the padded input's rows 20–22, columns 30–32: the frame sits on their edge, half outside
    top, left = TILE_MARGIN + 20 * scale, TILE_MARGIN + 30 * scale
    assert abs(rows[0] - top) <= 2 and abs(rows[-1] - (top + 3 * scale)) <= 2
    assert abs(cols[0] - left) <= 2 and abs(cols[-1] - (left + 3 * scale)) <= 2
    plain = tile(np.pad(GREY, ((0, 0), (1, 1), (1, 1))), scale)
    assert np.array_equal(pixels[~cyan], plain[~cyan])  # everything else is the padded input


def test_all_kernels_tab_shows_every_preset(at):
    rerun(at, conv_tab="All kernels")
    assert at.image[0].captions == list(PRESETS)


@pytest.mark.parametrize("kind,size,stride,out", [("max", 2, 2, 32), ("avg", 3, 1, 62), ("max", 4, 3, 21)])
def test_pooling_shrinks_the_feature_map(at, kind, size, stride, out):
    rerun(at, conv_tab="Pooling", conv_pool_kind=kind, conv_pool_size=size, conv_pool_stride=stride)
    assert title(at, "After").endswith(f"{out}×{out}") and f"= {out}" in latex(at)
    assert ("average" if kind == "avg" else "max") in title(at, "After")


def test_max_pooling_keeps_each_windows_largest_value_on_the_maps_scale(at, monkeypatch):
    media = record(monkeypatch)
    rerun(at, conv_tab="Pooling")
    before = reference(GREY, VERTICAL)
    after = before.reshape(32, 2, 32, 2).max(axis=(1, 3))
    caption, pixels = picture(at, media, "**After max pooling")
    scale = display_scale(32, MAP_PX)
    assert np.abs(pixels.astype(int) - tile(map_to_rgb(after, np.abs(before).max(), True), scale)).max() <= 1
    assert f"values {after.min():.3g} to {after.max():.3g}" in caption


def test_pool_larger_than_the_feature_map_is_reported(at):
    rerun(at, conv_source="Upload")
    at.sidebar.file_uploader[0].upload("tiny.png", png(8, 8), "image/png")
    rerun(at, conv_padding=0, conv_tab="Pooling", conv_pool_size=8)
    assert "larger than the 6×6 input" in errors(at)


def test_a_kernel_change_sends_the_same_input_picture(at):
    """The input's PNG is the same bytes, so the same URL: the browser shows the copy it holds."""
    before = [el.value for el in at.image]
    rerun(at, conv_kernel="Horizontal edge")
    after = [el.value for el in at.image]
    assert after[0] == before[0] and after[1] != before[1]


def test_map_colours_are_white_at_zero_and_full_red_or_blue_at_the_bound_and_grey_when_never_negative():
    rgb = np.round(map_to_rgb(np.array([[-2.0, 0.0, 1.0, 2.0]]))[:, 0] * 255)
    assert rgb[:, 1].tolist() == [255, 255, 255]  # 0: white
    assert rgb[:, 3].tolist() == [178, 24, 43] and rgb[:, 0].tolist() == [33, 102, 172]  # ±bound: RdBu's ends
    assert rgb[:, 2].tolist() == [np.round((255 + 178) / 2), np.round((255 + 24) / 2), np.round((255 + 43) / 2)]
    grey = map_to_rgb(np.array([[0.0, 1.0, 4.0]]))
    assert np.allclose(grey, [[[0, 0.25, 1]]] * 3)  # black 0 to white at the largest value
    assert np.allclose(map_to_rgb(np.array([[1.0, -1.0]]), bound=4.0)[:, 0, 0], 1 - 0.25 * (1 - np.array([178, 24, 43]) / 255))
