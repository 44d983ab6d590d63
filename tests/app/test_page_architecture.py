"""The Architecture page, driven through its widgets with AppTest."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.data.config import DataConfig
from cnn_core.nets.presets import network
from cnn_core.nets.summary import summarize
from tests.conftest import ROOT
from tests.helpers import open_page
from tests.html_tables import page_tables

PAGE = str(ROOT / "app_pages" / "architecture.py")


def _app(**state) -> AppTest:
    return open_page("app_pages/architecture.py", 60, **state)

def open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state["arch_tab"] = label  # only the open tab runs
    return at.run()


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _summary(at: AppTest):
    """The layer table's texts, as shown: one static HTML table (see ui.arch_views.draw_summary_table)."""
    table = page_tables(at)[0].text
    return table.assign(**{"#": table["#"].astype(int)})


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
    assert fresh.session_state["model_spec"] == network("simple_cnn")


def test_block_controls_rebuild_the_network():
    at = _app()
    at.sidebar.slider(key="arch_num_blocks").set_value(4).run()
    assert _summary(at)["layer"].tolist().count("conv4") == 1
    assert at.session_state["model_spec"] == network("simple_cnn_4block")
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
    assert table["#"].iloc[0] == 3 and table["output shape"].iloc[0] == "breaks here"  # first: seen without scrolling
    assert "larger than the padded input height 2" in table["how the size follows"].iloc[0]
    assert not [m for m in at.metric if m.label == "Parameters"]  # a network that can't run has no totals
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
    assert len(at.data_editor[0].value) == len(network("simple_cnn").layers)
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
    assert at.session_state["model_spec"] == network("simple_cnn")
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
    at = _app(arch_tab="Import")
    spec = network("tinyvgg", (1, 16, 16), 3)
    at.text_area(key="arch_import_text").set_value(spec.to_json())
    at.button(key="arch_import").click().run()
    assert not at.exception and not _errors(at)
    assert at.session_state["model_spec"] == network("tinyvgg")  # 3×32×32 and 4 classes, as the dataset
    assert any("adapted to the dataset" in i.value for i in at.info)


@pytest.mark.parametrize(("text", "message"), [
    ("{oops", "not valid JSON"),
    ('{"layers": [{"type": "conv2d", "out_channels": 4, "kernal_size": 3}]}',
     "layer 0 (conv2d): conv2d takes no argument kernal_size"),
    ('{"layers": [], "extra": 1}', "unknown spec field(s) extra"),
    ("", "Nothing to import: paste a spec or choose a JSON file first."),
    ("   ", "Nothing to import"),
    ('{"input": [3, 32, 32], "num_classes": 4}', 'a model spec needs "layers"'),
    ('{"layers": [', "this is not valid JSON ("),
])  # fmt: skip
def test_import_of_bad_json_says_what_is_wrong_and_keeps_the_network(text, message):
    at = _app(arch_tab="Import")
    at.text_area(key="arch_import_text").set_value(text)
    at.button(key="arch_import").click().run()
    assert message in _errors(at) and len(at.error) == 1 and not at.info and not at.exception  # one message
    assert at.session_state["model_spec"] == network("simple_cnn")


def test_export_shows_json_and_runnable_code():
    at = open_tab(_app(), "Export")
    codes = [c.value for c in at.code]
    assert json.loads(codes[0]) == network("simple_cnn").to_dict()
    assert "class Net(nn.Module)" in codes[1] and "619,268 parameters" in codes[1]


def _linked(arch: str) -> AppTest:
    """The router opens a link (it reads the lesson), then the Architecture page."""
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["arch"] = arch
    at.run()
    return at.switch_page(PAGE).run()


def test_a_link_with_a_preset_starts_from_it():
    at = _linked("tinyvgg")
    assert at.session_state["model_spec"] == network("tinyvgg") and at.selectbox(key="arch_preset").value == "tinyvgg"
    assert at.query_params.get("arch") in ("tinyvgg", ["tinyvgg"])  # the URL keeps it


def test_a_new_dataset_adapts_the_network():
    at = _app()
    at.session_state["data_config"] = DataConfig(dataset="digits")
    at.session_state["dataset"] = None
    at.run()
    spec = at.session_state["model_spec"]
    assert (spec.input, spec.num_classes, spec.layers[-1].kwargs["out_features"]) == ((1, 8, 8), 10, 10)


def test_digits_start_from_the_same_network_as_the_training_page():
    at = _app(data_config=DataConfig(dataset="digits"))
    assert at.session_state["model_spec"] == network("digits_small", (1, 8, 8), 10)
    assert "digits: Small net for 8×8 digits" in " ".join(c.value for c in at.caption)


def test_an_adaptive_pool_that_upsamples_is_warned_about():
    at = _app(data_config=DataConfig(dataset="digits"))
    assert not at.warning
    at.sidebar.selectbox(key="arch_preset").set_value("simple_cnn").run()  # 2×2 reaches its 4×4 adaptive pool
    assert "upsamples: it turns a 2×2 map into 4×4" in " ".join(w.value for w in at.warning)


def test_a_network_without_a_head_is_blamed_on_the_missing_head():
    at = _app()
    at.sidebar.radio(key="arch_mode").set_value("layers").run()
    _edit_table(at, deleted=list(range(13, 19)))  # keep the conv blocks, drop the pool and the head
    assert "breaks at the end: the head is missing" in _errors(at) and "layer 0" not in _errors(at)
    table = _summary(at)
    assert table["type"].iloc[0] == "missing head" and table["#"].iloc[0] == 13


def test_a_link_to_no_network_is_noted_once_and_removed_from_the_url():
    at = _linked("nonsense")
    notes = [w.value for w in at.warning] + [i.value for i in at.info]
    assert sum("nonsense" in n for n in notes) <= 1  # the router's notice on the first run; not again on the page
    assert "arch" not in at.query_params and at.session_state["model_spec"] == network("simple_cnn")


def test_layer_table_shows_blanks_and_fits_its_columns():
    at = _app()
    at.sidebar.radio(key="arch_mode").set_value("layers").run()
    editor = at.data_editor[0]
    assert editor.proto.placeholder == ""  # unused cells blank, not "None"
    columns = json.loads(editor.proto.columns)
    assert sum(c["width"] for c in columns.values()) <= 880  # with the row markers, within ~930 pixels
    assert len(_summary(at).columns) == 11 and not [d for d in at.dataframe if d.editing_mode == "read_only"]


def test_the_layer_table_is_one_html_element_with_each_column_explained_and_the_breaking_row_marked():
    """st.table drew each of the table's 240 cells through a markdown renderer, a fifth to a third of the browser's
    work on a direct load of the page (docs/performance.md): it is one st.html element now (fails on st.table)."""
    at = _app(data_config=DataConfig(dataset="digits"))
    assert not at.table and len(page_tables(at)) == 1
    table = page_tables(at)[0]
    assert table.titles["receptive field"].startswith("The input window one output value can see")
    assert not table.style.to_numpy().any()  # a network that works: no row marked
    at.sidebar.selectbox(key="arch_preset").set_value("lenet5").run()  # breaks at layer 3 on 8×8 images
    table = page_tables(at)[0]
    assert table.text["#"].iloc[0] == "3" and set(table.style.iloc[0]) == {"background-color: #fde2e2; color: #8b0000"}
    assert not table.style.iloc[1:].to_numpy().any()


def test_block_channels_sit_two_a_row_so_their_labels_do_not_wrap():
    at = _app()
    at.sidebar.slider(key="arch_num_blocks").set_value(4).run()
    assert len(at.sidebar.columns) == 2 and [c.weight for c in at.sidebar.columns] == [0.5, 0.5]


def _counting(monkeypatch, module, names: tuple[str, ...], calls: dict | None = None) -> dict[str, int]:
    """Count the calls of module.name for each name in `calls` (the call still happens)."""
    calls = {} if calls is None else calls
    calls.update(dict.fromkeys(names, 0))
    for name in names:
        fn = getattr(module, name)

        def wrapper(*args, _fn=fn, _name=name, **kwargs):
            calls[_name] += 1
            return _fn(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)
    return calls


def test_a_rerun_that_keeps_the_spec_rebuilds_nothing_and_another_session_shares_it(monkeypatch):
    """The summary, table, charts and code are built once per spec's content: other tabs, the other editing mode
    and another session showing the same network build nothing again."""
    import ui.arch_flow as flow
    import ui.arch_views as views

    calls = _counting(monkeypatch, views, ("summarize", "summary_frame", "make_subplots", "generate_code"),
                      _counting(monkeypatch, flow, ("box_size",)))
    at = _app()
    at.sidebar.slider(key="arch_num_blocks").set_value(2).run()
    at.sidebar.number_input(key="arch_ch_0").set_value(13).run()  # a network no other test shows
    for tab in ("Parameters and MACs", "Export", "Size formulas"):
        open_tab(at, tab)
    assert all(calls.values()), calls  # the counters count
    spec = at.session_state["model_spec"]
    assert spec.layers[0].kwargs["out_channels"] == 13
    calls.update(dict.fromkeys(calls, 0))
    for tab in ("Parameters and MACs", "Export", "Import", "Size formulas"):
        open_tab(at, tab)
    at.sidebar.radio(key="arch_mode").set_value("layers").run()  # the same network, as a table
    at.sidebar.radio(key="arch_mode").set_value("blocks").run()
    assert at.session_state["model_spec"] == spec and not at.exception
    assert not any(calls.values()), calls

    other = _app(arch_tab="Import")  # another learner imports the same network: equal content, another object
    other.text_area(key="arch_import_text").set_value(spec.to_json())
    other.button(key="arch_import").click().run()
    open_tab(other, "Parameters and MACs")
    open_tab(other, "Export")
    assert other.session_state["model_spec"] == spec and not other.exception
    assert not any(calls.values()), calls


def test_only_the_open_tab_runs(monkeypatch):
    import ui.arch_editor as editor
    import ui.arch_views as views

    calls = _counting(monkeypatch, editor, ("spec_code",), _counting(monkeypatch, views, ("cost_figure",)))
    at = _app()
    at.sidebar.slider(key="arch_num_blocks").set_value(2).run()
    assert calls == {"cost_figure": 0, "spec_code": 0} and not at.code and not at.get("plotly_chart")
    open_tab(at, "Parameters and MACs")
    assert calls == {"cost_figure": 1, "spec_code": 0} and len(at.get("plotly_chart")) == 1
    open_tab(at, "Export")
    assert calls == {"cost_figure": 1, "spec_code": 1} and len(at.code) == 2 and not at.get("plotly_chart")


def _flow(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "<svg" in m.value)


def test_the_shape_flow_is_an_svg_with_a_box_per_shape_change_and_no_plotly_chart(fresh):
    """A direct load draws no Plotly chart (the browser would load Plotly's code and draw it: about 0.4 s of its
    main thread): the shape flow is an inline SVG, a box per tensor whose shape changes, its shape on hover."""
    assert not fresh.get("plotly_chart")
    svg = _flow(fresh)
    stages = ["input", "conv1", "maxpool1", "conv2", "maxpool2", "conv3", "adaptpool1", "flatten1", "fc1", "fc2"]
    assert svg.count("<rect") == len(stages) and "✗" not in svg
    assert [t.split(":")[0] for t in svg.split("<title>")[1:]] == stages
    assert "<title>input: 3×32×32</title>" in svg and "<title>fc2: 4</title>" in svg


def test_the_shape_flow_marks_where_the_network_breaks():
    at = _app(data_config=DataConfig(dataset="digits"))
    at.sidebar.selectbox(key="arch_preset").set_value("lenet5").run()
    svg = _flow(at)
    assert "✗" in svg and "layer 3" in svg and svg.count("<title>") == 3


def test_the_summary_is_shared_by_content():
    from cnn_core.nets.spec import ModelSpec
    from ui.arch_views import spec_summary

    spec = network("tinyvgg", (1, 16, 16), 3)
    copy = ModelSpec.from_json(spec.to_json())
    assert copy is not spec and spec_summary(copy) is spec_summary(spec)
    other = network("tinyvgg", (1, 16, 16), 5)
    assert spec_summary(other) is not spec_summary(spec) and spec_summary(other).spec == other


def _widget_keys(at: AppTest) -> list[str]:
    return sorted(str(e.key) for e in [*at.sidebar, *at.main] if getattr(e, "key", None))


def test_a_preset_change_keeps_every_widget_key_so_the_browser_updates_rather_than_redraws():
    """A widget whose key changes is a new widget to the browser (unmounted, mounted again): a preset of as many
    blocks changes values, not keys; the layer table stays one static table (no data editor in block mode)."""
    at = _app()
    before = _widget_keys(at)
    at.sidebar.selectbox(key="arch_preset").set_value("simple_cnn_stride2").run()
    assert at.sidebar.radio(key="arch_mode").value == "blocks" and at.sidebar.radio(key="arch_downsample").value == "stride"
    assert _widget_keys(at) == before and not at.data_editor and len(page_tables(at)) == 1
