"""Experiments: the notebook's four exercises × 2 variants × 3 seeds on hard shapes, through the executor.

    python benchmarks/bench_experiments.py [--epochs 10] [--seeds 3] [--workers 2]

The 4 × 2 × 3 = 24 trials hold 15 distinct configurations: the four baselines are one network (SimpleCNN
with max pooling, no augmentation, plain cross-entropy), so its 3 seeds train once. Each timing starts from
an empty run registry and trains those 15 runs:
- pool: the process pool with --workers runs at a time (the executor gives each worker its share of cores);
- sequential: the same executor with one run at a time, so the 15 runs go one after another;
- cached: the whole batch again, which finds every run in the registry and trains nothing.
Then it prints each exercise's table and verdict (from the pool's runs), and the rows of the docs' table:
each variant against its baseline seed by seed, with the 95 % interval of the difference and the p-value.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_core.study.exercises import EXERCISES, HARD_SHAPES, ExperimentConfig
from cnn_core.study.experiments import experiment_result  # noqa: E402
from cnn_core.study.statistics import ci_text, percent, signed_points
from cnn_core.training.config import TrainConfig  # noqa: E402

NOTEBOOK = [name for name, e in EXERCISES.items() if e.notebook]


def configs(epochs: int, seeds: int) -> list[ExperimentConfig]:
    train = TrainConfig(epochs=epochs, step_size=max(1, epochs * 2 // 3))
    return [ExperimentConfig(exercise=name, seeds=seeds, data=HARD_SHAPES, train=train) for name in NOTEBOOK]


def timed_batch(trials, ds, workers: int, registry_dir: str):
    """(seconds, batch) for the trials on a fresh executor with `workers` runs at a time, cached in `registry_dir`."""
    from cnn_core.runs.launch import make_executor
    from cnn_core.runs.model_cache import ModelCache
    from cnn_core.study.trials import TrialBatch, on_executor

    cache = ModelCache(registry_dir)
    executor = make_executor(workers)
    try:
        start = time.perf_counter()
        batch = TrialBatch(trials, on_executor(executor), ds, lookup=cache.get, keep=cache.put).wait()
        seconds = time.perf_counter() - start
    finally:
        executor.shutdown()
    not_done = [s for s in batch.states if not s.finished]
    if not_done:
        raise SystemExit(f"{len(not_done)} runs did not finish: {not_done[0].error or not_done[0].state}")
    return seconds, batch


def main() -> None:
    from cnn_core.data.dataset import make_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="runs at a time in the pool (default 2)")
    parser.add_argument("--skip-sequential", action="store_true", help="time only the pool")
    args = parser.parse_args()

    cfgs = configs(args.epochs, args.seeds)
    trials = [t for cfg in cfgs for t in cfg.trials()]
    distinct = len({t.key() for t in trials})
    ds = make_dataset(HARD_SHAPES)
    print(f"{len(trials)} trials ({len(NOTEBOOK)} exercises × 2 variants × {args.seeds} seeds), {distinct} distinct "
          f"runs of {args.epochs} epochs on hard shapes ({len(ds.labels)} images); {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory(prefix="bench-exp-") as tmp:
        pool_dir = str(Path(tmp) / "pool")
        pool_s, batch = timed_batch(trials, ds, args.workers, pool_dir)
        print(f"pool, {args.workers} at a time: {pool_s:.1f} s")
        if not args.skip_sequential:
            seq_s, _ = timed_batch(trials, ds, 1, str(Path(tmp) / "sequential"))
            print(f"sequential, one at a time: {seq_s:.1f} s  → pool speed-up {seq_s / pool_s:.2f}×")
        cached_s, again = timed_batch(trials, ds, args.workers, pool_dir)
        print(f"the same batch again: {cached_s:.1f} s, {again.counts.get('cached', 0)} of {len(trials)} runs "
              "from the registry")  # fmt: skip

    offset, rows = 0, []
    for cfg in cfgs:
        n = len(cfg.trials())
        result = experiment_result(cfg, batch.states[offset : offset + n])
        offset += n
        print(f"\n{EXERCISES[cfg.exercise].title}")
        for v in result.variants:
            seeds = ", ".join(f"{a * 100:.1f}" for a in v.test_acc)
            print(f"  {v.name:<22}{percent(v.mean, v.std):>16}  ({seeds})  {v.params:>9,} params  {v.seconds:5.1f} s/run")
        print(f"  {result.verdict}")
        print(f"  {result.loss_verdict}")
        print(f"  {result.answer}")
        base, c = result.variants[0], result.main
        seeds = lambda v: ", ".join(f"{a * 100:.1f}" for a in v.test_acc)  # noqa: E731
        other = result.stats[c.other]
        rows.append(f"| {cfg.exercise} | {base.name} {percent(base.mean, base.std)} ({seeds(base)}) | {other.name} "
                    f"{percent(other.mean, other.std)} ({seeds(other)}) | {signed_points(c.difference)} "
                    f"({ci_text(c)}) | {'—' if c.p is None else f'{c.p:.2f}'} | "
                    f"{'no clear difference' if c.outcome == 'unclear' else c.outcome} |")  # fmt: skip
    print("\n| exercise | baseline | variant | difference (95 % CI, points) | p | verdict |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
