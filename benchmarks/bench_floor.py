"""How near the machine's limit training runs: the floor of the classic recipe, where its time goes, the CLI's overhead.

    python benchmarks/bench_floor.py                   # floor, profile (3 epochs), CLI overhead
    python benchmarks/bench_floor.py --epochs 30 --no-profile

1. The CPU: its model and whether it has AVX-512 and native bfloat16 (AVX512-BF16 or AMX), from lscpu's flags.
2. The floor: a 2048² matrix product's GFLOP/s in fp32 and bf16 with the worker's threads, and the classic
   recipe's FLOPs (torch.utils.flop_counter over one training step and one evaluation pass, times the steps and
   epochs); floor = FLOPs / rate. Training time over floor is the figure to bring down.
3. Where the time goes: torch.profiler over `fit` for --epochs epochs, self CPU time grouped into convolution,
   batch norm, activation and pooling, the optimizer step, the loss, the per-epoch validation pass; the rest of the
   wall time is Python and everything outside operators.
4. The CLI's fixed overhead: `python -m cnn_core train` wall time minus the training time it reports, and
   `python -X importtime` of the CLI's imports.
Printed as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUPS = {"convolution": ("conv", "mkldnn_convolution"), "batch norm": ("batch_norm",),
          "activation and pooling": ("relu", "gelu", "silu", "max_pool", "adaptive_avg_pool", "avg_pool"),
          "optimizer": ("adam", "sgd", "_fused", "foreach"), "loss": ("cross_entropy", "nll_loss", "log_softmax"),
          "linear": ("addmm", "linear", "mm")}  # fmt: skip


def cpu_info() -> dict:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    flags = set(re.search(r"Flags:\s*(.*)", out).group(1).split()) if "Flags:" in out else set()
    model = re.search(r"Model name:\s*(.*)", out)
    return {"cpu": model.group(1).strip() if model else "?", "avx512f": "avx512f" in flags,
            "native_bf16": bool({"avx512_bf16", "amx_bf16"} & flags), "cpus": os.cpu_count()}  # fmt: skip


def matmul_gflops(dtype, threads: int, n: int = 2048, repeat: int = 5) -> float:
    """Best of `repeat` n×n products (one warm-up). Without native bf16 a bf16 product is emulated and slow: then
    fewer repeats."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    t = time.perf_counter()
    a @ b
    if time.perf_counter() - t > 2:
        repeat = 1
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def classic(epochs: int):
    from cnn_core.data.config import DataConfig
    from cnn_core.data.dataset import make_dataset
    from cnn_core.nets.presets import network
    from cnn_core.training.config import TrainConfig

    ds = make_dataset(DataConfig(val_fraction=0.2, test_fraction=0.0))
    return network("simple_cnn", ds.input_shape, ds.num_classes), ds, TrainConfig(epochs=epochs, precision="fp32")


def recipe_tflop(spec, ds, cfg) -> float:
    """FLOPs of the whole run: training steps (forward and backward) and a validation pass per epoch."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from cnn_core.nets.build import build_model
    from cnn_core.training.engine import steps_per_epoch

    model = build_model(spec)
    x = torch.as_tensor(ds.images[: cfg.batch_size])
    y = torch.as_tensor(ds.labels[: cfg.batch_size])
    with FlopCounterMode(display=False) as step:
        F.cross_entropy(model(x), y).backward()
    with FlopCounterMode(display=False) as fwd, torch.no_grad():
        model(x)
    n_train, n_val = len(ds.splits["train"]), len(ds.splits["val"])
    per_image_fwd = fwd.get_total_flops() / cfg.batch_size
    train = step.get_total_flops() * steps_per_epoch(n_train, cfg.batch_size)
    return cfg.epochs * (train + per_image_fwd * n_val) / 1e12


def profile_fit(spec, ds, cfg, threads: int) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from cnn_core.training.engine import fit

    torch.set_num_threads(threads)
    fit(spec, ds, cfg.__class__.from_dict({**cfg.to_dict(), "epochs": 1}), device="cpu")  # warm
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run = fit(spec, ds, cfg, device="cpu")
    wall = time.perf_counter() - start
    seconds = {g: 0.0 for g in GROUPS}
    other, top = 0.0, []
    for e in prof.key_averages():
        if not e.key.startswith("aten::") and "Optimizer" not in e.key:
            continue
        self_s = e.self_cpu_time_total / 1e6
        top.append((self_s, e.key))
        for group, parts in GROUPS.items():
            if any(p in e.key for p in parts):
                seconds[group] += self_s
                break
        else:
            other += self_s
    ops = sum(seconds.values()) + other
    return {"profiled_wall_s": round(wall, 2), "train_seconds": round(run.summary["train_seconds"], 2),
            "operator_s": round(ops, 2), "outside_operators_s": round(wall - ops, 2),
            "by_group_s": {k: round(v, 2) for k, v in seconds.items()} | {"other ops": round(other, 2)},
            "top_ops": [(k, round(s, 3)) for s, k in sorted(top, reverse=True)[:12]]}  # fmt: skip


def cli_overhead(epochs: int) -> dict:
    """`python -m cnn_core train --json`: wall time against the training time it reports; the start's parts."""
    def wall(*argv: str) -> tuple[float, str]:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "CNN_LAB_CACHE_DIR": tmp})  # fmt: skip
        if proc.returncode:
            raise RuntimeError(f"{argv} failed: {proc.stderr[-500:]}")
        return time.perf_counter() - start, proc.stdout + proc.stderr

    with tempfile.TemporaryDirectory() as tmp:
        total, out = wall("-m", "cnn_core", "train", "--epochs", str(epochs), "--json")
        bare, _ = wall("-c", "pass")
        torch_s, _ = wall("-c", "import torch")
        dataset_s, _ = wall("-c", "import time, numpy; t = time.perf_counter(); "
                            "from cnn_core.data.dataset import make_dataset; from cnn_core.data.config import DataConfig; "
                            "make_dataset(DataConfig()); print(time.perf_counter() - t)")  # fmt: skip
        _, imports = wall("-X", "importtime", "-c", "import cnn_core.cli.main")
    summary = json.loads(out.strip().splitlines()[-1])
    top = {}
    for line in imports.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            top[parts[2].strip()] = round(int(parts[1]) / 1e6, 3)
    return {"cli_wall_s": round(total, 2), "train_seconds": round(summary["train_seconds"], 2),
            "fixed_overhead_s": round(total - summary["train_seconds"], 2), "executor": summary.get("executor"),
            "python_start_s": round(bare, 3), "import_torch_s": round(torch_s - bare, 2),
            "dataset_process_s": round(dataset_s - bare, 2),
            "cli_import_top_s": dict(sorted(top.items(), key=lambda kv: -kv[1])[:6])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()
    import torch

    spec, ds, cfg = classic(args.epochs)
    tflop = recipe_tflop(spec, ds, cfg)
    result = {**cpu_info(), "threads": args.threads, "load_avg": os.getloadavg()[0], "epochs": args.epochs,
              "recipe_tflop": round(tflop, 3)}  # fmt: skip
    print(json.dumps(result), flush=True)  # each part as it comes: a slow machine still shows the first ones
    fp32 = matmul_gflops(torch.float32, args.threads)
    part = {"matmul_2048_gflops_fp32": round(fp32, 1), "floor_fp32_s": round(tflop * 1e3 / fp32, 2)}
    print(json.dumps(part), flush=True)
    if not args.no_profile:
        profiled = profile_fit(spec, ds, cfg, args.threads)
        print(json.dumps({"profile_fp32": profiled, "train_over_floor_fp32":
                          round(profiled["train_seconds"] / part["floor_fp32_s"], 2)}), flush=True)  # fmt: skip
    if not args.no_cli:
        print(json.dumps({"cli": cli_overhead(1)}), flush=True)
    bf16 = matmul_gflops(torch.bfloat16, args.threads)
    print(json.dumps({"matmul_2048_gflops_bf16": round(bf16, 1), "floor_bf16_s": round(tflop * 1e3 / bf16, 2)}),
          flush=True)


if __name__ == "__main__":
    main()
