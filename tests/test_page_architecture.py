"""The Architecture page, driven through its widgets with AppTest."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.data import DataConfig
from cnn_core.spec import preset
from cnn_core.summary import summarize
from tests.helpers import open_page

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "architecture.py")


def _app(**state) -> AppTest:
    return open_page("pages/architecture.py", 60, **state)

def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _summary(at: AppTest):
    return next(d for d in at.dataframe if d.editing_mode == "read_only").value


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


@pytest.fixture(scope="module")
def fresh() -> AppTest:
    return _app()


def test_first_visit_shows_simple_cnn_with_619268_parameters(fresh):
    assert not fresh.exception
    assert _metric(fresh, "Parameters") == "619,268" and _metric(fresh, "MACs per image") == "10.8 M"
    table = _summary(fresh)
    assert list(table["layer"][:4]) == ["conv1", "bn1", "relu1", "maxpool1"]
    assert table["parameters"][0] == "896" and table["output shape"][3] == "32×16×16"
    assert table["how the size follows"][0] == "⌊(32 + 2×1 − 3) / 1⌋ + 1 = 32"
    assert fresh.session_state["model_spec"] == preset("simple_cnn")


def test_block_controls_rebuild_the_network():
    at = _app()
    at.sidebar.slider(key="arch_num_blocks").set_value(4).run()
    assert _summary(at)["layer"].tolist().count("conv4") == 1
    assert at.session_state["model_spec"] == preset("simple_cnn_4block")
    at.sidebar.radio(key="arch_downsample").set_value("stride").run()
    assert "maxpool2d" not in _summary(at)["type"].tolist()
    at.sidebar.checkbox(key="arch_batch_norm").uncheck().run()
    assert _metric(at, "Non-trainable") == "0"
    at.sidebar.number_input(key="arch_ch_0").set_value(8).run()
    assert _summary(at)["parameters"][0] == f"{(3 * 9 + 1) * 8:,}"
    expected = summarize(at.session_state["model_spec"]).total_params
    assert _metric(at, "Parameters") == f"{expected:,}" and not at.exception


def test_lenet5_on_8x8_digits_breaks_at_layer_3_and_keeps_the_last_valid_spec():
    at = _app(data_config=DataConfig(dataset="digits"))
    valid = at.session_state["model_spec"]
    assert valid.input == (1, 8, 8) and valid.num_classes == 10
    at.sidebar.selectbox(key="arch_preset").set_value("lenet5").run()
    assert "breaks at layer 3 (conv2d)" in _errors(at) and "keeps the last valid one" in _errors(at)
    table = _summary(at)
    assert table["#"].iloc[-1] == 3 and table["output shape"].iloc[-1] == "breaks here"
    assert "larger than the padded input height 2" in table["how the size follows"].iloc[-1]
    assert at.session_state["model_spec"] == valid
    assert at.radio(key="arch_mode").value == "layers"  # LeNet-5 is not made of blocks


def _edit_table(at: AppTest, **edits) -> AppTest:
    at.session_state[f"arch_table_{at.session_state['arch_table_version']}"] = {
        "edited_rows": edits.get("edited", {}), "added_rows": edits.get("added", []),
        "deleted_rows": edits.get("deleted", [])}  # fmt: skip
    return at.run()


def test_layer_table_edits_change_the_numbers():
    at = _app()
    at.sidebar.radio(key="arch_mode").set_value("layers").run()
    assert len(at.data_editor[0].value) == len(preset("simple_cnn").layers)
    _edit_table(at, edited={0: {"out_channels": 8, "kernel_size": 5, "padding": 2}})
    table = _summary(at)
    assert table["parameters"][0] == f"{(3 * 25 + 1) * 8:,}" and table["receptive field"][0] == "5×5"
    assert table["how the size follows"][0] == "⌊(32 + 2×2 − 5) / 1⌋ + 1 = 32"
    assert at.session_state["model_spec"].layers[0].kwargs["out_channels"] == 8


def test_layer_table_can_break_the_network_and_name_the_row():
    at = _app()
    at.sidebar.radio(key="arch_mode").set_value("layers").run()
    _edit_table(at, edited={0: {"kernel_size": 40}})
    assert "breaks at layer 0 (conv2d)" in _errors(at) and "kernel 40 is larger" in _errors(at)
    assert at.session_state["model_spec"] == preset("simple_cnn")
    _edit_table(at, edited={5: {"out_channels": 0}})
    assert "Row 5 (conv2d): out_channels must be at least 1" in _errors(at) and not at.exception
    _edit_table(at, deleted=[18])
    assert "ends with 256 outputs but there are 4 classes" in _errors(at)


def test_layer_table_added_rows_count():
    at = _app()
    at.sidebar.radio(key="arch_mode").set_value("layers").run()
    _edit_table(at, added=[{"type": "relu"}])
    assert "ends with 4 outputs" not in _errors(at) and _summary(at)["type"].iloc[-1] == "relu"


def test_import_json_replaces_the_network_and_adapts_it_to_the_dataset():
    at = _app()
    spec = preset("tinyvgg", (1, 16, 16), 3)
    at.text_area(key="arch_import_text").set_value(spec.to_json())
    at.button(key="arch_import").click().run()
    assert not at.exception and not _errors(at)
    assert at.session_state["model_spec"] == preset("tinyvgg")  # 3×32×32 and 4 classes, as the dataset
    assert any("adapted to the dataset" in i.value for i in at.info)


@pytest.mark.parametrize(("text", "message"), [
    ("{oops", "not valid JSON"),
    ('{"layers": [{"type": "conv2d", "out_channels": 4, "kernal_size": 3}]}',
     "layer 0 (conv2d): conv2d takes no argument kernal_size"),
    ('{"layers": [], "extra": 1}', "unknown spec field(s) extra"),
])  # fmt: skip
def test_import_of_bad_json_says_what_is_wrong_and_keeps_the_network(text, message):
    at = _app()
    at.text_area(key="arch_import_text").set_value(text)
    at.button(key="arch_import").click().run()
    assert message in _errors(at) and not at.exception
    assert at.session_state["model_spec"] == preset("simple_cnn")


def test_export_shows_json_and_runnable_code(fresh):
    codes = [c.value for c in fresh.code]
    assert json.loads(codes[0]) == preset("simple_cnn").to_dict()
    assert "class Net(nn.Module)" in codes[1] and "619,268 parameters" in codes[1]


def test_a_link_with_a_preset_starts_from_it():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["arch"] = "tinyvgg"
    at.run()
    assert at.session_state["model_spec"] == preset("tinyvgg")


def test_a_new_dataset_adapts_the_network():
    at = _app()
    at.session_state["data_config"] = DataConfig(dataset="digits")
    at.session_state["dataset"] = None
    at.run()
    spec = at.session_state["model_spec"]
    assert (spec.input, spec.num_classes, spec.layers[-1].kwargs["out_features"]) == ((1, 8, 8), 10, 10)
