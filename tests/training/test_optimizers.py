"""The engine's optimizers are torch.optim's, number for number, and a run with them never imports TorchDynamo."""

import subprocess
import sys

import pytest
import torch

from cnn_core.nets.build import build_model
from cnn_core.nets.presets import network
from cnn_core.training.config import TrainConfig
from cnn_core.training.engine import make_optimizer, make_scheduler
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("torch_state_untouched")

SPEC = network("simple_cnn").with_io((3, 16, 16), 3)
CONFIGS = {
    "sgd, one-cycle": TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-3, schedule="one_cycle"),
    "sgd without momentum, step": TrainConfig(optimizer="sgd", lr=0.05, momentum=0.0, schedule="step", step_size=2),
    "adam, cosine": TrainConfig(optimizer="adam", lr=3e-3, weight_decay=1e-4, schedule="cosine", epochs=3),
    "adamw, one-cycle": TrainConfig(optimizer="adamw", lr=3e-3, weight_decay=0.05, schedule="one_cycle"),
}


def torch_optim(params, cfg: TrainConfig):
    """The reference: torch.optim's own class with the arguments make_optimizer gives."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                               weight_decay=cfg.weight_decay, fused=True)  # fmt: skip
    kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def train_steps(cfg: TrainConfig, make, steps=6):
    torch.manual_seed(0)
    model = build_model(SPEC)
    opt = make(model, cfg)
    schedule = make_scheduler(opt, cfg, steps_per_epoch=2)
    data = torch.Generator().manual_seed(1)
    for i in range(steps):
        x, y = torch.randn(8, 3, 16, 16, generator=data), torch.randint(0, 3, (8,), generator=data)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if schedule is not None and (cfg.schedule == "one_cycle" or i % 2 == 1):
            schedule.step()
    return model.state_dict(), opt


@pytest.mark.parametrize("name", CONFIGS)
def test_each_optimizer_gives_torch_optims_weights_bit_for_bit(name):
    cfg = CONFIGS[name]
    ours, our_opt = train_steps(cfg, make_optimizer)
    reference, ref_opt = train_steps(cfg, lambda model, c: torch_optim(model.parameters(), c))
    assert isinstance(our_opt, type(ref_opt)) and our_opt.param_groups[0]["fused"]
    assert all(torch.equal(ours[k], reference[k]) for k in reference)
    assert not all(torch.equal(ours[k], v) for k, v in build_model(SPEC).state_dict().items())  # it did train
    ours_state, ref_state = our_opt.state_dict(), ref_opt.state_dict()
    assert ours_state["param_groups"] == ref_state["param_groups"]  # the schedule's learning rates too
    for i, state in ref_state["state"].items():
        assert all(torch.equal(ours_state["state"][i][k], v) for k, v in state.items() if torch.is_tensor(v))


def test_a_run_of_each_optimizer_never_imports_torchdynamo():
    """1.2-1.5 s of CPU at the start of every CLI call and worker process when it does (benchmarks/bench_floor.py)."""
    code = (
        "import sys\n"
        "from cnn_core.data.config import DataConfig\nfrom cnn_core.data.dataset import make_dataset\n"
        "from cnn_core.nets.presets import network\nfrom cnn_core.training.config import TrainConfig\n"
        "from cnn_core.training.engine import fit\n"
        "data = make_dataset(DataConfig(n_per_class=8, size=16))\n"
        "spec = network('tinyvgg').with_io(data.input_shape, data.num_classes)\n"
        "for kind in ('sgd', 'adam', 'adamw'):\n"
        "    run = fit(spec, data, TrainConfig(optimizer=kind, epochs=1, batch_size=8, schedule='one_cycle'), device='cpu')\n"
        "    assert run.summary['status'] != 'failed', run.summary\n"
        "print('torch._dynamo' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"]
