"""How near the machine's limit training runs: the floor of the classic recipe, where its time goes, the CLI's overhead.

    python benchmarks/bench_floor.py                   # floor, steps, profile (3 epochs), CLI overhead
    python benchmarks/bench_floor.py --epochs 30 --no-profile
    python benchmarks/bench_floor.py --only steps --repeats 5   # one part: floor, steps, profile or cli

1. The CPU: its model and whether it has AVX-512 and native bfloat16 (AVX512-BF16 or AMX), from lscpu's flags.
2. The floor: a 2048² matrix product's GFLOP/s in fp32 and bf16 with the worker's threads, and the classic
   recipe's FLOPs (torch.utils.flop_counter over one training step and one evaluation pass, times the steps and
   epochs); floor = FLOPs / rate. Training time over floor is the figure to bring down.
3. Against the floor in CPU time, which other jobs on a shared machine barely move: one thread's CPU seconds (user +
   sys) per training step and per validation pass (--repeats epochs, each its own figure), against the floor of the
   same FLOPs at one thread's matrix-product rate; and the recipe's CPU seconds (epochs × (steps + a validation pass)).
4. Where the time goes: torch.profiler over `fit` for --epochs epochs, self CPU time grouped into convolution,
   batch norm, activation and pooling, the optimizer step, the loss, the per-epoch validation pass; the rest of the
   wall time is Python and everything outside operators.
5. The CLI's fixed overhead: `python -m cnn_core train` wall time minus the training time it reports, and its split
   in CPU seconds: Python's start, NumPy, `import torch`, the CLI's own imports, and the CLI's work outside the
   training epochs (arguments, dataset, model, optimizer, the run's record), measured in a child that imports in
   that order and then runs the CLI's `main`; and whether the run imported `torch._dynamo` (torch.optim's own
   optimizers do on first use; the engine's don't).
Each part is printed as one JSON object as it comes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
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


def matmul_cpu_gflops(n: int = 2048, repeat: int = 5) -> float:
    """One thread's fp32 rate in CPU time (best of `repeat` n×n products, one warm-up): the floor's rate for CPU
    seconds, which a loaded machine barely moves."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        best = float("inf")
        for _ in range(repeat):
            t = time.process_time()
            a @ b
            best = min(best, time.process_time() - t)
    finally:
        torch.set_num_threads(threads)
    return 2 * n**3 / best / 1e9


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


def recipe_flops(spec, ds, cfg) -> dict:
    """FLOPs of one training step (forward and backward), of one validation pass, and of the whole run: the
    training steps and a validation pass per epoch."""
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
    steps = steps_per_epoch(n_train, cfg.batch_size)
    val = fwd.get_total_flops() / cfg.batch_size * n_val
    return {"step": step.get_total_flops(), "val_pass": val, "steps_per_epoch": steps,
            "run": cfg.epochs * (step.get_total_flops() * steps + val)}  # fmt: skip


def step_cpu(spec, ds, cfg, flops: dict, gflops_1: float, repeats: int) -> dict:
    """One thread's CPU seconds per training step and per validation pass, `repeats` epochs after one warm-up, each
    epoch its own figure; over the floor of their FLOPs at `gflops_1`, one thread's matrix-product rate. Beside the
    engine, interleaved epoch by epoch in this process (so that a loaded machine weighs on both alike), the engine as
    it was before issue 24's second pass: ReLUs not in place, validation in batches of 1024, and two more validation
    passes after the last epoch (the recipe's figure counts them)."""
    import torch

    from cnn_core.training import engine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        now, before = engine.prepare(spec, ds, cfg, "cpu"), engine.prepare(spec, ds, cfg, "cpu")
        for module in before.model.modules():
            if isinstance(module, torch.nn.ReLU):
                module.inplace = False
        runs = {"now": (now, engine.EVAL_BATCH), "before": (before, 1024)}
        times = {name: ([], []) for name in runs}
        for rep in range(repeats + 1):  # the first round warms up
            for name, (s, eval_batch) in runs.items():
                t = time.process_time()
                engine.train_epoch(s, stop=lambda: False)
                step = (time.process_time() - t) / flops["steps_per_epoch"]
                t = time.process_time()
                engine.evaluate(s.model, *s.val, batch_size=eval_batch)
                if rep:
                    times[name][0].append(step)
                    times[name][1].append(time.process_time() - t)
    finally:
        torch.set_num_threads(threads)
    floor_step, floor_val = flops["step"] / gflops_1 / 1e9, flops["val_pass"] / gflops_1 / 1e9
    out = {"step_floor_ms": round(1e3 * floor_step, 1), "val_pass_floor_ms": round(1e3 * floor_val, 1),
           "recipe_floor_cpu_s_1_thread": round(flops["run"] / gflops_1 / 1e9, 2)}  # fmt: skip
    for name, (steps, passes) in times.items():
        step, val = statistics.median(steps), statistics.median(passes)
        recipe = cfg.epochs * (flops["steps_per_epoch"] * step + val) + 2 * val * (name == "before")
        out[name] = {"step_ms": [round(1e3 * x, 1) for x in steps], "step_over_floor": round(step / floor_step, 2),
                     "val_pass_ms": [round(1e3 * x, 1) for x in passes], "val_pass_over_floor": round(val / floor_val, 2),
                     "recipe_cpu_s_1_thread": round(recipe, 2),
                     "recipe_over_floor": round(recipe * gflops_1 * 1e9 / flops["run"], 2)}  # fmt: skip
    return out


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


# The CLI's start in phases, in a child: each import in the order the CLI meets it, then the CLI's `main` with the
# engine's epochs and validation passes timed apart from the rest. Prints one JSON object of CPU and wall seconds.
PHASES = r"""
import io, json, sys, time
from contextlib import redirect_stdout
marks = [("start", time.process_time(), time.perf_counter())]
def mark(name):
    marks.append((name, time.process_time(), time.perf_counter()))
import numpy; mark("numpy")
import torch; mark("import torch")
import cnn_core.cli.main, cnn_core.data.dataset, cnn_core.runs.launch, cnn_core.training.engine; mark("cnn_core imports")
from cnn_core.training import engine
inside = [0.0, 0.0]
def timed(fn):
    def run(*args, **kwargs):
        t, w = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            inside[0] += time.process_time() - t
            inside[1] += time.perf_counter() - w
    return run
engine.train_epoch, engine.evaluate = timed(engine.train_epoch), timed(engine.evaluate)
with redirect_stdout(io.StringIO()):
    cnn_core.cli.main.main(sys.argv[1:])
mark("cli main")
out = {name: [round(c - marks[i][1], 3), round(w - marks[i][2], 3)] for i, (name, c, w) in enumerate(marks[1:])}
main_cpu, main_wall = out.pop("cli main")
out["epochs and validation passes"] = [round(inside[0], 3), round(inside[1], 3)]
out["the CLI outside them"] = [round(main_cpu - inside[0], 3), round(main_wall - inside[1], 3)]
print(json.dumps({"imports_torch_dynamo": "torch._dynamo" in sys.modules}))  # 1.2-1.5 s of CPU when it does
print(json.dumps(out), flush=True)
import gc; gc.freeze(); sys.exit(0)  # and end as `python -m cnn_core` ends
"""


def cli_overhead(epochs: int, threads: int | None = None) -> dict:
    """`python -m cnn_core train --json`: wall time against the training time it reports (the fixed overhead), its
    CPU seconds, and the start's parts in CPU and wall seconds (PHASES)."""
    threads_arg = ["--threads", str(threads)] if threads else []
    argv = ["train", "--epochs", str(epochs), "--json", *threads_arg]

    def run(*args: str) -> tuple[float, float, str]:
        """(wall seconds, CPU seconds: user + sys of the child, stdout)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "CNN_LAB_CACHE_DIR": tmp})  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            raise RuntimeError(f"{args} failed: {proc.stderr[-500:]}")
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return wall, cpu, proc.stdout

    with tempfile.TemporaryDirectory() as tmp:
        total, total_cpu, out = run("-m", "cnn_core", *argv)
        bare, bare_cpu, _ = run("-c", "pass")
        phases_wall, phases_cpu, phases = run("-c", PHASES, *argv)
    summary = json.loads(out.strip().splitlines()[-1])
    *_, dynamo, phase_times = phases.strip().splitlines()
    split = {"python start": [round(bare_cpu, 3), round(bare, 3)], **json.loads(phase_times)}
    measured = [sum(v[i] for v in split.values()) for i in (0, 1)]
    split["the exit and the rest"] = [round(phases_cpu - measured[0], 3), round(phases_wall - measured[1], 3)]
    training = split["epochs and validation passes"]
    return {"threads": threads or "default", "cli_wall_s": round(total, 2), "cli_cpu_s": round(total_cpu, 2),
            "train_seconds": round(summary["train_seconds"], 2), **json.loads(dynamo),
            "fixed_overhead_s": round(total - summary["train_seconds"], 2), "executor": summary.get("executor"),
            "split_cpu_wall_s": split,
            "overhead_cpu_s": round(sum(c for k, (c, _) in split.items() if k != "epochs and validation passes"), 2),
            "training_cpu_s": training[0]}  # fmt: skip


PARTS = ("floor", "steps", "profile", "cli", "bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the profiled run (the recipe is 30)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="threads of the wall-time figures: the matrix product, the profile and the CLI")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed, each its own figure, for the steps")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()
    parts = set(args.only or PARTS) - {name for name, off in (("profile", args.no_profile), ("cli", args.no_cli)) if off}
    import torch

    spec, ds, cfg = classic(30)
    flops = recipe_flops(spec, ds, cfg)
    tflop = flops["run"] / 1e12
    result = {**cpu_info(), "threads": args.threads, "load_avg": [round(x, 1) for x in os.getloadavg()],
              "precision": "fp32", "recipe_tflop": round(tflop, 3), "step_gflop": round(flops["step"] / 1e9, 3)}  # fmt: skip
    print(json.dumps(result), flush=True)  # each part as it comes: a slow machine still shows the first ones
    fp32 = matmul_gflops(torch.float32, args.threads)
    gflops_1 = matmul_cpu_gflops()
    part = {"matmul_2048_gflops_fp32": round(fp32, 1), "floor_fp32_s": round(tflop * 1e3 / fp32, 2),
            "matmul_2048_gflops_fp32_1_thread_cpu": round(gflops_1, 1)}  # fmt: skip
    print(json.dumps(part), flush=True)
    if "steps" in parts:
        print(json.dumps({"steps_fp32_1_thread_cpu": step_cpu(spec, ds, cfg, flops, gflops_1, args.repeats)}), flush=True)
    if "profile" in parts:
        profiled = profile_fit(spec, ds, cfg.__class__.from_dict({**cfg.to_dict(), "epochs": args.epochs}), args.threads)
        floor = part["floor_fp32_s"] * args.epochs / cfg.epochs
        print(json.dumps({"profile_fp32": profiled, "train_over_floor_fp32": round(profiled["train_seconds"] / floor, 2)}),
              flush=True)  # fmt: skip
    if "cli" in parts:
        print(json.dumps({"cli": cli_overhead(1, args.threads)}), flush=True)
    if "bf16" in parts:
        bf16 = matmul_gflops(torch.bfloat16, args.threads)
        print(json.dumps({"matmul_2048_gflops_bf16": round(bf16, 1), "floor_bf16_s": round(tflop * 1e3 / bf16, 2)}),
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
