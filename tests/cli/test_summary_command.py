"""`python -m cnn_core summary`: the table, the JSON and the one-line errors."""

import json
import subprocess
import sys

import pytest

from cnn_core.cli.main import main
from cnn_core.nets.presets import network


def test_summary_json_has_layers_and_totals(capsys):
    assert main(["summary", "--arch", "simple_cnn", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_params"] == 619_268 and out["total_macs"] == 10_847_232
    first = out["layers"][0]
    assert (first["name"], first["type"], first["output_shape"], first["params"], first["macs"],
            first["receptive_field"]) == ("conv1", "conv2d", [32, 32, 32], 896, 884_736, 3)  # fmt: skip


def test_input_and_classes_adapt_a_preset(capsys):
    assert main(["summary", "--arch", "digits_small", "--input", "1,8,8", "--classes", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layers"][-1]["output_shape"] == [10] and out["spec"]["input"] == [1, 8, 8]


def test_table_lists_every_layer_and_the_total(capsys):
    assert main(["summary", "--arch", "tinyvgg"]) == 0
    out = capsys.readouterr().out
    assert "conv4" in out and "total: " in out and f"{len(network('tinyvgg').layers)}" in out


def test_a_json_file_is_read(tmp_path, capsys):
    path = tmp_path / "net.json"
    path.write_text(network("lenet5", (1, 32, 32), 3).to_json())
    assert main(["summary", "--arch", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["input"] == [1, 32, 32]


@pytest.mark.parametrize(("argv", "message"), [
    (["--arch", "lenet5", "--input", "1,8,8", "--classes", "10"], "layer 3 (conv2d): kernel 5 is larger"),
    (["--arch", "resnet"], "neither a preset"),
    (["--arch", "simple_cnn", "--input", "3,32"], "three positive whole numbers"),
    (["--arch", "simple_cnn", "--classes", "1"], "--classes must be at least 2"),
])  # fmt: skip
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(["summary", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and captured.out == ""


def test_bad_json_files_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    for text, message in [("{not json", "not valid JSON"), ('{"input": 5, "layers": []}', "input must be three positive"),
                          ('{"layers": [{"type": "conv3d"}]}', "layer 0"),
                          ('{"layers": [{"type": "flatten"}, {"type": "linear", "out_features": 5}]}', "5 outputs")]:
        bad.write_text(text)
        assert main(["summary", "--arch", str(bad)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_module_entry_point_exits_2_on_an_invalid_spec():
    result = subprocess.run([sys.executable, "-m", "cnn_core", "summary", "--arch", "lenet5", "--input", "1,8,8"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("error: layer 3 (conv2d)")
