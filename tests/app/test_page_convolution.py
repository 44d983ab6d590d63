"""The Convolution page driven through AppTest: every widget, every preset, bad input."""

import base64
import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnn_core.conv import ops
from cnn_core.conv.images import pick_channels, sample_image
from cnn_core.conv.kernels import PRESETS
from tests.conftest import ROOT

PAGE = str(ROOT / "app_pages" / "convolution.py")


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


def chart(at, key):
    """The plotly figure a chart with this key shows, as JSON."""
    found = [el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key!r}"
    return json.loads(found[0].proto.spec)


def values(trace, field="z"):
    """A trace's array: plotly writes NumPy arrays as base64 typed arrays."""
    data = trace[field]
    if isinstance(data, dict):
        shape = [int(n) for n in str(data.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).reshape(shape)
    return np.array(data, dtype=float)


def title(at, key):
    return chart(at, key)["layout"]["title"]["text"]


def latex(at):
    return " ".join(el.value for el in at.latex)


def errors(at):
    return " ".join(el.value for el in at.error)


def png(width, height):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_first_visit_shows_input_kernel_output_and_the_filled_in_formula(at):
    assert not at.exception and not at.error
    assert title(at, "conv_input_chart") == "Input 64×64"
    assert title(at, "conv_kernel_chart") == "Kernel 3×3"
    assert title(at, "conv_output_chart") == "Output 64×64"
    assert "64 + 2 \\cdot 1 - 1 \\cdot (3 - 1) - 1" in latex(at) and "= 64" in latex(at)
    assert "convolution" in at.markdown[0].value


def test_signed_output_uses_a_diverging_scale_centred_at_zero(at):
    trace = chart(at, "conv_output_chart")["data"][0]
    assert trace["zmid"] == 0 and trace["zmin"] == -trace["zmax"]
    expected = ops.conv2d(pick_channels(sample_image(), "grey"), PRESETS["Vertical edge"][0][None, None], padding=1)
    assert np.allclose(values(trace), expected[0], atol=1e-3)


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_shows_its_kernel_numbers(at, name):
    rerun(at, conv_kernel=name)
    kernel = values(chart(at, "conv_kernel_chart")["data"][0])
    assert np.allclose(kernel, PRESETS[name][0])
    assert PRESETS[name][1] in " ".join(c.value for c in at.sidebar.caption)


def test_gaussian_5x5_shrinks_the_output_with_padding_1(at):
    rerun(at, conv_kernel="Gaussian blur 5×5")
    assert title(at, "conv_output_chart") == "Output 62×62" and "= 62" in latex(at)


def test_stride_two_halves_the_output(at):
    rerun(at, conv_stride=2)
    assert title(at, "conv_output_chart") == "Output 32×32" and "{2}" in latex(at)


@pytest.mark.parametrize("padding,size", [(0, 62), (2, 66), (5, 72), ("same", 64)])
def test_padding_changes_the_output_size(at, padding, size):
    rerun(at, conv_padding=padding)
    assert title(at, "conv_output_chart") == f"Output {size}×{size}"


def test_dilation_two_spreads_a_3x3_kernel_over_5x5(at):
    rerun(at, conv_dilation=2)
    assert "2 \\cdot (3 - 1)" in latex(at) and title(at, "conv_output_chart") == "Output 62×62"


@pytest.mark.parametrize("key", ["conv_stride", "conv_dilation"])
def test_stride_and_dilation_cannot_be_set_to_zero(at, key):
    widget = at.sidebar.number_input(key=key)
    assert widget.min == 1 and widget.value == 1


def test_same_padding_with_stride_two_is_explained(at):
    rerun(at, conv_padding="same", conv_stride=2)
    assert "'same' works only with stride 1" in errors(at)


def test_relu_removes_negative_outputs(at):
    rerun(at, conv_relu=True)
    out = chart(at, "conv_output_chart")
    assert out["layout"]["title"]["text"].startswith("Output after ReLU") and values(out["data"][0]).min() >= 0


def edit(row, column, value):
    """data_editor edit state: one cell set, rows from 0, columns by their 1-based names."""
    return {"edited_rows": {row: {str(column): value}}, "added_rows": [], "deleted_rows": []}


def test_custom_kernel_starts_as_identity_and_takes_edited_cells(at):
    rerun(at, conv_kernel="Custom")
    assert np.array_equal(values(chart(at, "conv_kernel_chart")["data"][0]), np.eye(3) * [0, 1, 0])
    rerun(at, conv_grid_3=edit(0, 2, 2.5))
    assert values(chart(at, "conv_kernel_chart")["data"][0])[0].tolist() == [0, 2.5, 0]


@pytest.mark.parametrize("value,message", [(None, "row 1, column 2 is empty"), (math.inf, "row 1, column 2 is infinite"),
                                           (math.nan, "row 1, column 2 is empty")])
def test_bad_custom_cell_is_named_and_the_page_recovers(at, value, message):
    rerun(at, conv_kernel="Custom", conv_grid_3=edit(0, 2, value))
    assert message in errors(at)
    rerun(at, conv_grid_3=edit(0, 2, 1.0))
    assert not at.error


def test_custom_kernel_size_changes_the_grid(at):
    rerun(at, conv_kernel="Custom", conv_custom_size=5)
    assert title(at, "conv_kernel_chart") == "Kernel 5×5"
    assert at.sidebar.data_editor[0].value.shape == (5, 5)


def test_kernel_larger_than_the_padded_input_is_reported(at):
    rerun(at, conv_source="Upload")
    at.sidebar.file_uploader[0].upload("tiny.png", png(8, 8), "image/png")
    rerun(at, conv_kernel="Custom", conv_custom_size=7, conv_dilation=2)
    assert "spans 13 pixels" in errors(at)


def test_uploaded_image_is_used_and_large_ones_are_shrunk_with_a_notice(at):
    rerun(at, conv_source="Upload")
    assert "Upload an image" in at.sidebar.info[0].value
    at.sidebar.file_uploader[0].upload("wide.png", png(300, 150), "image/png")
    rerun(at)
    assert "150×300 pixels (height × width)" in at.sidebar.warning[0].value
    assert "shrunk to 64×128" in at.sidebar.warning[0].value
    assert title(at, "conv_input_chart") == "Input 64×128"


def test_a_file_that_is_not_an_image_shows_an_error_and_the_sample(at):
    rerun(at, conv_source="Upload")
    at.sidebar.file_uploader[0].upload("notes.png", b"these are not pixels", "image/png")
    rerun(at)
    assert "not an image" in errors(at) and title(at, "conv_input_chart") == "Input 64×64"


def test_dataset_image_is_taken_from_the_current_dataset(at):
    rerun(at, conv_source="Dataset image", conv_index=3)
    assert "Image #3" in " ".join(c.value for c in at.sidebar.caption)
    assert title(at, "conv_input_chart") == "Input 32×32"


@pytest.mark.parametrize("mode", ["colour", "grey", "red", "green", "blue"])
def test_channel_choice_reaches_the_step_view(at, mode):
    rerun(at, conv_channels=mode, conv_tab="Step by step")
    n_rows = 3 if mode == "colour" else 1
    assert len(chart(at, "conv_products_chart")["data"]) == 3 * n_rows


def test_channels_tab_sums_each_channels_contribution(at):
    rerun(at, conv_tab="Channels")
    assert "choose **colour**" in at.info[0].value
    rerun(at, conv_channels="colour")
    maps = [values(t) for t in chart(at, "conv_channels_chart")["data"]]
    assert len(maps) == 4 and np.allclose(maps[0] + maps[1] + maps[2], maps[3], atol=3e-3)


def test_step_by_step_writes_out_the_sum_of_the_products(at):
    rerun(at, conv_tab="Step by step", conv_row=5, conv_col=9)
    expected = ops.conv2d(pick_channels(sample_image(), "grey"), PRESETS["Vertical edge"][0][None, None], padding=1)
    assert at.code[0].value.endswith(f"= {expected[0, 5, 9]:.4f}")
    assert "row 5, column 9" in title(at, "conv_step_input")


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
    output = ops.conv2d(pick_channels(sample_image(), "grey"), PRESETS["Vertical edge"][0][None, None], padding=1)[0]
    assert position(at) == tuple(int(i) for i in np.unravel_index(np.abs(output).argmax(), output.shape))
    assert at.slider(key="conv_row").label == "Output row" and at.slider(key="conv_col").label == "Output column"


def test_the_close_up_shows_the_window_pixels_with_their_values(at):
    rerun(at, conv_tab="Step by step", conv_row=5, conv_col=9)
    trace = chart(at, "conv_step_zoom")["data"][0]
    padded = np.pad(pick_channels(sample_image(), "grey")[0], 1)
    rows, cols = values(trace, "y").astype(int), values(trace, "x").astype(int)
    assert rows[0] == 3 and cols[0] == 7 and len(rows) == len(cols) == 7  # the 3×3 window plus 2 pixels each side
    assert np.allclose(values(trace), padded[3:10, 7:14], atol=1e-6)


def test_all_kernels_tab_shows_every_preset(at):
    rerun(at, conv_tab="All kernels")
    assert at.image[0].captions == list(PRESETS)


@pytest.mark.parametrize("kind,size,stride,out", [("max", 2, 2, 32), ("avg", 3, 1, 62), ("max", 4, 3, 21)])
def test_pooling_shrinks_the_feature_map(at, kind, size, stride, out):
    rerun(at, conv_tab="Pooling", conv_pool_kind=kind, conv_pool_size=size, conv_pool_stride=stride)
    assert title(at, "conv_pool_out").endswith(f"{out}×{out}") and f"= {out}" in latex(at)
    assert ("average" if kind == "avg" else "max") in title(at, "conv_pool_out")


def test_pool_larger_than_the_feature_map_is_reported(at):
    rerun(at, conv_source="Upload")
    at.sidebar.file_uploader[0].upload("tiny.png", png(8, 8), "image/png")
    rerun(at, conv_padding=0, conv_tab="Pooling", conv_pool_size=8)
    assert "larger than the 6×6 input" in errors(at)



def test_the_maps_travel_as_float32_and_an_unchanged_input_is_sent_as_the_same_spec(at):
    """The page's weight is its two 64×64 maps: float32 halves them (122 kB → 70 kB a direct load). A kernel change
    leaves the input chart's spec as it was, which Streamlit sends as a reference to the browser's copy."""
    for key in ("conv_input_chart", "conv_output_chart", "conv_kernel_chart"):
        assert chart(at, key)["data"][0]["z"]["dtype"] == "f4", key
    assert np.allclose(values(chart(at, "conv_input_chart")["data"][0]),
                       np.round(pick_channels(sample_image(), "grey")[0], 3), atol=1e-6)
    before = [el.proto.spec for el in at.get("plotly_chart")]
    rerun(at, conv_kernel="Horizontal edge")
    after = [el.proto.spec for el in at.get("plotly_chart")]
    assert after[0] == before[0] and after[1:] != before[1:]
