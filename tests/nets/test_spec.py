"""Model specs: the JSON format, presets against PyTorch's own counts, and where a design breaks."""

import json

import pytest

from cnn_core.nets.build import build_model
from cnn_core.nets.layers import ARGS, LAYER_TYPES, REQUIRED, SpecError, layer
from cnn_core.nets.presets import NETWORKS, load_spec, network
from cnn_core.nets.shapes import infer_shapes
from cnn_core.nets.spec import ModelSpec

torch = pytest.importorskip("torch")

ISSUE_EXAMPLE = {
    "input": [3, 32, 32], "num_classes": 4,
    "layers": [{"type": "conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1},
               {"type": "batchnorm2d"}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
               {"type": "flatten"}, {"type": "linear", "out_features": 4}],
}  # fmt: skip


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_simple_cnn_has_619268_parameters_as_pytorch_counts():
    model = build_model(network("simple_cnn", (3, 32, 32), 4))
    assert n_params(model) == 619_268


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("input_shape, classes", [((3, 32, 32), 4), ((3, 64, 64), 8), ((1, 28, 28), 10)])
def test_presets_build_and_their_shapes_match_a_real_forward_pass(name, input_shape, classes):
    spec = network(name, input_shape, classes)
    model = build_model(spec).eval()
    x = torch.zeros(2, *input_shape)
    shapes = infer_shapes(spec)
    with torch.no_grad():
        for module, expected in zip(model, shapes):
            x = module(x)
            assert tuple(x.shape[1:]) == expected
    assert tuple(x.shape) == (2, classes)


def test_the_issue_example_round_trips_through_json():
    spec = ModelSpec.from_dict(ISSUE_EXAMPLE)
    assert spec.to_dict() == ISSUE_EXAMPLE
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert json.loads(spec.to_json(indent=2)) == ISSUE_EXAMPLE
    assert n_params(build_model(spec)) == (3 * 9 * 32 + 32) + 2 * 32 + (32 * 16 * 16 * 4 + 4)


def test_equal_specs_written_differently_have_equal_keys():
    explicit = dict(ISSUE_EXAMPLE, layers=[*ISSUE_EXAMPLE["layers"]])
    explicit["layers"][3] = {"type": "maxpool2d", "kernel_size": 2, "stride": 2, "padding": 0}
    assert ModelSpec.from_dict(explicit).key() == ModelSpec.from_dict(ISSUE_EXAMPLE).key()
    assert network("simple_cnn").key() != network("simple_cnn", num_classes=5).key()


def test_lenet5_breaks_on_8x8_digits_at_its_second_convolution():
    with pytest.raises(SpecError) as info:
        infer_shapes(network("lenet5", (1, 8, 8), 10))
    assert info.value.index == 3 and "kernel 5 is larger than the padded input" in info.value.reason


@pytest.mark.parametrize(
    "layers, index, fragment",
    [
        ([{"type": "conv3d"}], 0, "unknown layer type 'conv3d'"),
        ([{"type": "conv2d"}], 0, "needs out_channels"),
        ([{"type": "conv2d", "out_channels": 8, "kernel": 3}], 0, "takes no argument kernel"),
        ([{"type": "conv2d", "out_channels": 0}], 0, "at least 1"),
        ([{"type": "dropout", "p": 1.5}], 0, "probability"),
        ([{"type": "flatten"}, {"type": "conv2d", "out_channels": 8}], 1, "move it before flatten"),
        ([{"type": "linear", "out_features": 4}], 0, "add a flatten layer before it"),
        ([{"type": "maxpool2d", "kernel_size": 2, "padding": 2}], 0, "at most 1"),
        ([{"type": "conv2d", "out_channels": 4, "kernel_size": 40}], 0, "larger than the padded input"),
        ([{"type": "flatten"}, {"type": "linear", "out_features": 3}], 1, "there are 4 classes"),
        ([{"type": "conv2d", "out_channels": 4}], 1, "after layer 0 (missing head): the network ends with a 4×30×30 map"),
    ],
)
def test_a_broken_design_names_the_failing_layer_and_why(layers, index, fragment):
    with pytest.raises(SpecError) as info:
        infer_shapes(ModelSpec.from_dict({"input": [3, 32, 32], "num_classes": 4, "layers": layers}))
    assert info.value.index == index and fragment in str(info.value)


def test_where_torch_fails_the_spec_fails_first():
    spec = ModelSpec((3, 8, 8), 4, (layer("conv2d", out_channels=4, kernel_size=5), layer("maxpool2d", kernel_size=2),
                                    layer("conv2d", out_channels=4, kernel_size=3), layer("flatten"),
                                    layer("linear", out_features=4)))  # fmt: skip
    with pytest.raises(SpecError) as info:
        infer_shapes(spec)
    x = torch.zeros(1, 3, 8, 8)
    modules = [torch.nn.Conv2d(3, 4, 5), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 4, 3)]
    failed_at = None
    for i, m in enumerate(modules):
        try:
            x = m(x)
        except RuntimeError:
            failed_at = i
            break
    assert info.value.index == failed_at == 2


def test_load_spec_takes_a_preset_name_or_json_and_follows_the_dataset():
    assert load_spec("tinyvgg", (1, 16, 16), 3) == network("tinyvgg", (1, 16, 16), 3)
    moved = load_spec(json.dumps(ISSUE_EXAMPLE), (1, 32, 32), 7)
    assert moved.input == (1, 32, 32) and moved.num_classes == 7 and infer_shapes(moved)[-1] == (7,)
    with pytest.raises(ValueError, match="unknown preset|not valid JSON"):
        load_spec("resnet50")


@pytest.mark.parametrize("data", [{"input": 5, "layers": []}, {"input": "3,32,32", "layers": []},
                                  {"input": [3, 32, 32], "num_classes": 2.5, "layers": []}])  # fmt: skip
def test_a_wrongly_typed_spec_is_a_value_error_not_a_type_error(data):
    with pytest.raises(ValueError, match="input must be three positive whole numbers|num_classes must be"):
        ModelSpec.from_dict(data)


def test_an_unknown_layer_type_fails_loudly_naming_the_known_ones():
    from cnn_core.nets.layers import layer_type

    with pytest.raises(ValueError, match=r"unknown layer type 'conv3d'; expected one of conv2d, batchnorm2d, .*linear"):
        layer_type("conv3d")
    with pytest.raises(ValueError, match="unknown layer type 'conv3d'"):
        layer("conv3d")


@pytest.mark.parametrize("name", list(LAYER_TYPES))
def test_each_layer_record_matches_its_torch_class(name):
    import inspect

    record = LAYER_TYPES[name]
    parameters = inspect.signature(getattr(torch.nn, record.torch_class)).parameters
    for arg, default in record.args.items():  # torch takes every argument we give it, with the same default
        assert arg in parameters and arg in ARGS
        if parameters[arg].default is not inspect.Parameter.empty and default is not REQUIRED:
            assert parameters[arg].default == default, arg
    if record.inferred:
        assert record.inferred in parameters
    if record.functional:  # stateless: the module and the functional form compute the same
        module = getattr(torch.nn, record.torch_class)(**{k: v for k, v in record.args.items() if v is not REQUIRED})
        x = torch.randn(2, 3, 4, 4)
        F = torch.nn.functional  # noqa: N806, F841 - used by the functional form
        expected = eval(record.functional.format(**record.args))  # noqa: S307 - our own table
        torch.testing.assert_close(module(x), expected)


def test_in_place_relus_follow_only_layers_that_keep_no_output_and_change_no_number():
    """Training's copy overwrites a conv, batch norm or linear output with its ReLU (their backward passes don't read
    it); after anything else (the input, a pooling, a tanh whose backward reads its output) the ReLU writes anew."""
    spec = ModelSpec((3, 8, 8), 3, (layer("relu"), layer("conv2d", out_channels=4, padding=1), layer("batchnorm2d"),
                                    layer("relu"), layer("maxpool2d"), layer("relu"), layer("conv2d", out_channels=4),
                                    layer("relu"), layer("tanh"), layer("relu"), layer("flatten"),
                                    layer("linear", out_features=5), layer("relu"), layer("linear", out_features=3)))  # fmt: skip
    torch.manual_seed(0)
    plain = build_model(spec)
    torch.manual_seed(0)
    inplace = build_model(spec, for_training=True)
    relus = [m.inplace for m in inplace if isinstance(m, torch.nn.ReLU)]
    assert relus == [False, True, False, True, False, True] and not any(
        m.inplace for m in plain if isinstance(m, torch.nn.ReLU))  # fmt: skip
    x = torch.randn(6, 3, 8, 8)
    grads = []
    for model in (plain, inplace):
        model(x).square().sum().backward()
        grads.append([p.grad for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))


@pytest.mark.parametrize("pool", ["adaptiveavgpool2d", "maxpool2d"])
def test_training_flatten_hands_back_a_channels_last_gradient_and_changes_no_number(pool):
    """Through a flattening the gradient comes back in torch's default layout, in which the pooling before it runs
    its backward pass about four times slower; training's copy turns it channels-last, as the pooling's input is."""
    args = {"output_size": 2} if pool == "adaptiveavgpool2d" else {}
    spec = ModelSpec((3, 8, 8), 3, (layer("conv2d", out_channels=4, padding=1), layer("relu"), layer(pool, **args),
                                    layer("flatten"), layer("linear", out_features=3)))  # fmt: skip
    x = torch.randn(6, 3, 8, 8).contiguous(memory_format=torch.channels_last)
    grads, layouts = [], []
    for for_training in (False, True):
        torch.manual_seed(0)
        model = build_model(spec, for_training=for_training).to(memory_format=torch.channels_last)
        seen = []
        model[2].register_full_backward_hook(lambda m, grad_in, grad_out, seen=seen: seen.append(grad_out[0]))
        model(x).square().sum().backward()
        grads.append([p.grad for p in model.parameters()])
        layouts.append(seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous())
    assert layouts == [False, True]
    assert all(torch.equal(a, b) for a, b in zip(*grads))
