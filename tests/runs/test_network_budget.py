"""A network's cost against the server's memory plan: fine, a warning well before the limit, a refusal past it;
and a checkpoint whose network is too large, or whose weights are not its network's, refused before it is built."""

import dataclasses

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.nets import budget
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer
from cnn_core.nets.presets import network
from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import format_bytes, summarize
from cnn_core.runs import checkpoint, resources
from cnn_core.runs.checkpoint import checkpoint_bytes, load_checkpoint
from cnn_core.runs.resources import Limits, check_network, plan, run_allowance
from cnn_core.training.run import TrainedRun

torch = pytest.importorskip("torch")
GB = 10**9
CLOUD = Limits(cpus=2, memory=int(2.7 * GB), cpu_source="", memory_source="")  # Streamlit Community Cloud


def huge(width: int = 400_000) -> ModelSpec:
    """A flat network of 1.2 billion parameters (3×32×32 → width → 4): 4.9 GB of weights, 20 GB to train."""
    return ModelSpec((3, 32, 32), 4, (layer("flatten"), layer("linear", out_features=width), layer("linear", out_features=4)))


def test_the_cost_follows_from_the_summary_and_the_batch():
    spec = network("simple_cnn", (3, 32, 32), 4)
    s = summarize(spec)
    cost = budget.network_cost(spec, batch_size=32)
    assert (cost.params, cost.buffers, cost.macs, cost.activation_bytes) == \
        (s.total_params, s.total_buffers, s.total_macs, s.activation_bytes)
    assert cost.training_bytes == 4 * (4 * s.total_params + s.total_buffers) + 2 * 32 * s.activation_bytes
    with pytest.raises(ValueError, match="no layers"):
        budget.network_cost(ModelSpec((3, 32, 32), 4, ()))


def test_the_allowance_is_a_runs_share_of_the_plan():
    p = plan(CLOUD, "cpu")
    expected = (int(2.7 * GB * resources.HEADROOM) - p.server_bytes - resources.DATASET_ENTRY) - resources.TORCH_RSS["cpu"]
    assert run_allowance(CLOUD, p) == expected
    two = plan(Limits(8, 16 * GB, "", ""), "cpu", max_runs=4)
    assert run_allowance(Limits(8, 16 * GB, "", ""), two) < run_allowance(Limits(8, 16 * GB, "", ""), plan(
        Limits(8, 16 * GB, "", ""), "cpu", max_runs=1))  # fmt: skip
    assert run_allowance(Limits(1, 10**8, "", ""), plan(Limits(1, 10**8, "", ""), "cpu")) == resources.RUN_WORKSPACE


def test_a_small_network_passes_a_large_one_warns_and_a_huge_one_is_refused_on_a_class_server():
    p = plan(CLOUD, "cpu")
    allowance = run_allowance(CLOUD, p)
    ok = check_network(network("simple_cnn", (3, 32, 32), 4), 32, CLOUD, p)
    assert ok.level == "ok" and ok.message == ""
    big = check_network(network("simple_cnn", (3, 128, 128), 4), 32, CLOUD, p)
    assert big.level == "warn" and allowance / 2 < big.cost.training_bytes < allowance
    assert f"of the {format_bytes(allowance)} a training run may use here" in big.message
    refused = check_network(huge(), 32, CLOUD, p)
    assert refused.refused and "too large for this server" in refused.message and "1.2 G parameters" in refused.message
    assert check_network(network("simple_cnn", (3, 128, 128), 4), 256, CLOUD, p).refused  # the batch counts too


def test_arithmetic_alone_can_warn_or_refuse():
    cost = budget.Cost(params=1000, buffers=0, macs=budget.MACS_LIMIT + 1, activation_bytes=1000, batch_size=1)
    assert budget.judge(cost, 10**12).refused
    assert budget.judge(dataclasses.replace(cost, macs=budget.MACS_WARN + 1), 10**12).level == "warn"


@pytest.fixture
def small_run():
    spec = network("digits_small", (1, 8, 8), 10)
    torch.manual_seed(0)
    weights = {k: v.clone() for k, v in build_model(spec).state_dict().items()}
    return TrainedRun(spec, DataConfig(dataset="digits"), {"lr": 0.001}, weights, [], {"val_acc": 0.5}, key="abc")


def test_a_small_file_describing_a_huge_network_is_refused_before_it_is_built(small_run, monkeypatch):
    monkeypatch.setattr(resources, "read_limits", lambda: CLOUD)
    built = []
    monkeypatch.setattr(checkpoint, "build_model", lambda spec: built.append(spec) or build_model(spec))
    data = checkpoint_bytes(dataclasses.replace(small_run, spec=huge(), state_dict={}))
    assert len(data) < 4096
    with pytest.raises(ValueError, match="too large for this server"):
        load_checkpoint(data)
    assert built == []
    assert load_checkpoint(checkpoint_bytes(small_run)).spec == small_run.spec and len(built) == 1


def test_weights_that_are_not_the_networks_are_refused_before_it_is_built(small_run, monkeypatch):
    built = []
    monkeypatch.setattr(checkpoint, "build_model", lambda spec: built.append(spec) or build_model(spec))
    wider = small_run.spec.with_io((1, 64, 64), 10)  # fits this server, but has far more weights than the file
    with pytest.raises(ValueError, match="do not fit its own network .* it holds 13,898 numbers, the network 529,994"):
        load_checkpoint(checkpoint_bytes(dataclasses.replace(small_run, spec=wider)))
    with pytest.raises(ValueError, match="not all tensors"):
        load_checkpoint(checkpoint_bytes(dataclasses.replace(small_run, state_dict={"fc1.weight": [1.0, 2.0]})))
    assert built == []
