"""Block designs round-trip to specs, and generated PyTorch code runs and matches `build_model`."""

import ast

import numpy as np
import pytest
import torch

from cnn_core.nets.blocks import BlockDesign, design_of
from cnn_core.nets.build import build_model
from cnn_core.nets.codegen import generate_code
from cnn_core.nets.layers import SpecError, layer
from cnn_core.nets.presets import NETWORKS, network
from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import summarize

BLOCK_PRESETS = ("simple_cnn", "simple_cnn_4block", "simple_cnn_stride2", "digits_small")


@pytest.mark.parametrize("name", BLOCK_PRESETS)
def test_block_shaped_presets_have_a_design_that_rebuilds_them(name):
    spec = network(name, (1, 28, 28), 10)
    design = design_of(spec)
    assert design is not None and design.to_spec((1, 28, 28), 10) == spec


@pytest.mark.parametrize("name", ("lenet5", "tinyvgg"))
def test_presets_that_are_not_blocks_have_no_design(name):
    assert design_of(network(name)) is None


def test_default_design_is_simple_cnn_with_619268_parameters():
    spec = BlockDesign().to_spec((3, 32, 32), 4)
    assert spec == network("simple_cnn")
    assert summarize(spec).total_params == 619_268


def test_stride_downsampling_replaces_pools_with_stride_two_convs():
    spec = BlockDesign(downsample="stride").to_spec((3, 32, 32), 4)
    assert spec == network("simple_cnn_stride2")
    assert "maxpool2d" not in [lay.type for lay in spec.layers]


def test_every_design_option_round_trips_through_design_of():
    options = [
        BlockDesign(2, (8, 16), 5, "avg", True, False, "gelu", 0.1, 2, 32, 0.3),
        BlockDesign(1, (4,), 1, "max", False, True, "tanh", 0.0, 0, 0, 0.0),
        BlockDesign(4, (8, 8, 16, 16), 3, "stride", True, True, "leakyrelu", 0.2, 1, 64, 0.0),
    ]
    for design in options:
        spec = design.to_spec((3, 32, 32), 5)
        assert design_of(spec) == design
        assert summarize(spec).ok


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_blocks": 0, "channels": ()}, "num_blocks must be from 1"),
    ({"num_blocks": 2}, "one channel count per block"),
    ({"downsample": "median"}, "unknown downsampling"),
    ({"activation": "swish"}, "unknown activation"),
    ({"hidden": -1}, "hidden must be 0"),
    ({"dropout": 1.0}, "dropout p must be a probability"),
    ({"channels": (32, 0, 128)}, "out_channels must be at least 1"),
])  # fmt: skip
def test_bad_design_is_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BlockDesign(**kwargs)


def test_too_many_blocks_for_small_digits_breaks_at_the_fourth_pool():
    spec = BlockDesign(4, (8, 16, 32, 64), downsample_last=True, head_pool=0).to_spec((1, 8, 8), 10)
    error = summarize(spec).error
    assert error.layer_type == "maxpool2d" and "larger than the padded input height 1" in error.reason


def _run_generated(spec: ModelSpec, class_name: str = "Net"):
    source = generate_code(spec, class_name)
    ast.parse(source)
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    return namespace[class_name]()


@pytest.mark.parametrize("name", list(NETWORKS))
def test_generated_code_gives_the_same_parameters_and_output_shape(name):
    spec = network(name, (3, 32, 32), 7)
    model, reference = _run_generated(spec).eval(), build_model(spec).eval()
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model) == count(reference) == summarize(spec).total_params
    assert [tuple(p.shape) for p in model.parameters()] == [tuple(p.shape) for p in reference.parameters()]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


def test_generated_code_computes_what_build_model_computes():
    spec = ModelSpec((1, 9, 11), 3, (
        layer("conv2d", out_channels=4, kernel_size=3, stride=2, padding=1, dilation=2, bias=False),
        layer("leakyrelu", negative_slope=0.2), layer("avgpool2d", kernel_size=3, stride=1, padding=1),
        layer("sigmoid"), layer("flatten"), layer("linear", out_features=3, bias=False)))  # fmt: skip
    model, reference = _run_generated(spec, "Tiny").eval(), build_model(spec).eval()
    model.load_state_dict(reference.state_dict())  # the same names: conv1.weight, fc1.weight
    x = torch.rand(2, 1, 9, 11)
    torch.testing.assert_close(model(x), reference(x))


def test_generated_code_writes_shapes_where_they_change():
    source = generate_code(network("simple_cnn"))
    assert "self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)" in source
    assert "x = self.maxpool1(x)  # (B, 32, 16, 16)" in source
    assert "619,268 parameters" in source


def test_code_for_an_invalid_spec_or_class_name_is_refused():
    with pytest.raises(SpecError, match="layer 3"):
        generate_code(network("lenet5", (1, 8, 8), 10))
    with pytest.raises(ValueError, match="not a Python name"):
        generate_code(network("simple_cnn"), "my net")


def test_exported_code_loads_a_trained_checkpoint_and_classifies_an_image_file(tmp_path):
    import subprocess
    import sys

    from PIL import Image

    from cnn_core.inspection.interpret import prepare_image
    from cnn_core.runs.checkpoint import save_checkpoint
    from tests.eval_helpers import trained_run

    run = trained_run()  # digits_small trained by the app's engine for a few epochs
    save_checkpoint(run, tmp_path / "run.pt")
    (tmp_path / "net.py").write_text(generate_code(run.spec))
    namespace: dict = {"__name__": "exported"}
    exec(compile((tmp_path / "net.py").read_text(), "net.py", "exec"), namespace)
    exported, classes = namespace["load"](tmp_path / "run.pt")  # Net().load_state_dict(ckpt["state_dict"])
    assert classes == list(run.data_config.classes)
    image = (np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)
    Image.fromarray(image, "L").save(tmp_path / "digit.png")
    x = torch.from_numpy(prepare_image((tmp_path / "digit.png").read_bytes(), run.spec.input)[0])[None]
    torch.testing.assert_close(namespace["read_image"](tmp_path / "digit.png"), x)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), run.build()(x))  # the app's trained model, the same scores
        best = classes[int(run.build()(x).argmax())]
    out = subprocess.run([sys.executable, "net.py", "run.pt", "digit.png"], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert out.splitlines()[0].startswith(f"{best}: ") and len(out.splitlines()) == 3
