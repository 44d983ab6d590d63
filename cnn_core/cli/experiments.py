"""`python -m cnn_core experiment …` and `… sweep …`: the Experiments page's comparisons on the command line.

Progress goes to stderr as each run finishes; the results to stdout (as one JSON object with --json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from cnn_core.cli.commands import check_budget
from cnn_core.cli.data_options import add_data_options
from cnn_core.cli.data_options import data_config as cli_data_config
from cnn_core.cli.options import given_flags
from cnn_core.study.exercises import EXERCISES, HARD_SHAPES, MAX_SEEDS
from cnn_core.study.statistics import percent
from cnn_core.study.sweeps import KNOBS, MAX_TRIALS

TASKS = ("hard", "classic")  # the data the options start from: hard shapes, or the classic four shapes


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of at least 1, got {text!r}")
    return value


def _add_common(p: argparse.ArgumentParser) -> None:
    """The task and its data options (each one given replaces the task's value), the budget, the output."""
    p.add_argument("--task", choices=TASKS, default="hard",
                   help="the data to start from: 'hard' shapes (random colours, jitter, clutter, 8 classes: the "
                   "default, where design choices show) or the 'classic' four shapes; data options change it")
    add_data_options(p)  # left out: the task's value
    p.add_argument("--epochs", type=int, help="epochs of every run (default: 10 on small data, 5 on big)")
    p.add_argument("--seed", type=int, default=0, help="the (first) training seed")
    p.add_argument("--workers", type=_at_least_one, help="runs trained at the same time (default: the executor's choice)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")  # fmt: skip


def add_experiment_commands(sub) -> None:
    """Register `experiment` and `sweep` on the CLI's subparsers."""
    p = sub.add_parser("experiment", help="train an exercise's variants over several seeds and compare them")
    p.add_argument("--exercise", required=True, choices=tuple(EXERCISES),
                   help="; ".join(f"{e.name}: {e.title}" for e in EXERCISES.values()))
    p.add_argument("--seeds", type=int, default=3, help=f"training seeds per variant (1 to {MAX_SEEDS}, default 3)")
    _add_common(p)
    p.set_defaults(run=_run_experiment)

    p = sub.add_parser("sweep", help="train a grid (or a random sample of it) of hyperparameter settings")
    p.add_argument("--param", action="append", required=True, metavar="NAME=V1,V2,…",
                   help=f"a hyperparameter and its values (repeat for more): {', '.join(KNOBS)}")
    p.add_argument("--random", type=int, metavar="N", help="train N random combinations instead of the whole grid")
    p.add_argument("--budget", type=int, default=20,
                   help=f"the most runs the grid may take (default 20, at most {MAX_TRIALS})")  # fmt: skip
    _add_common(p)
    p.set_defaults(run=_run_sweep)


def data_config(args: argparse.Namespace):
    """The task's DataConfig with the data options given on the command line put in place."""
    from cnn_core.data.config import DataConfig

    dataset = given_flags(DataConfig, args, "data.").get("dataset", "shapes")
    base = HARD_SHAPES if args.task == "hard" and dataset == "shapes" else DataConfig(dataset=dataset)
    return cli_data_config(args, base.to_dict() if dataset != "folder" else {})


def train_config(args: argparse.Namespace, data):
    """The same budget for every run: the defaults suited to the data, or --epochs of them."""
    from cnn_core.training.config import suggested_config

    cfg = suggested_config(data)
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=args.epochs, step_size=None)  # the step follows the epochs
    return dataclasses.replace(cfg, seed=args.seed)


def _run(trials, data, args: argparse.Namespace):
    """Train the trials on the executor (runs already in the registry are not trained again); the batch."""
    from cnn_core.data.dataset import make_dataset
    from cnn_core.runs.launch import make_executor
    from cnn_core.runs.model_cache import ModelCache
    from cnn_core.study.trials import TrialBatch, on_executor

    for spec, batch_size, label in {(t.spec, t.train.batch_size, t.label): None for t in trials}:
        check_budget(spec, batch_size, f"{label}: ")  # every network before any is trained
    ds = make_dataset(data)
    reported: set[int] = set()

    def progress(batch) -> None:
        for i, s in enumerate(batch.states):
            if i in reported or s.state in ("queued", "running"):
                continue
            reported.add(i)
            what = f"test acc {percent(s.scores['test_acc'])}" if s.finished else f"{s.state}: {s.error}"
            extra = " (cached)" if s.state == "cached" else f" in {s.run.summary['train_seconds']:.1f} s" if s.run else ""
            print(f"[{len(reported)}/{len(batch.states)}] {s.trial.label}, seed {s.trial.seed}: {what}{extra}",
                  file=sys.stderr)  # fmt: skip

    executor = make_executor(args.workers)
    try:
        cache, unsaved = ModelCache(), []
        keep = lambda run: unsaved.append(cache.put(run))  # noqa: E731  (None when it was saved)
        batch = TrialBatch(trials, on_executor(executor, who="cli"), ds, lookup=cache.get, keep=keep)
        try:
            batch.wait(on_change=None if args.json else progress)
            if not args.json:
                progress(batch)  # the runs that came from the cache, if nothing else changed
        except KeyboardInterrupt:
            batch.stop()
            raise
    finally:
        executor.shutdown()
    failed = [s for s in batch.states if not s.finished]
    if failed:
        raise ValueError(f"{len(failed)} of {len(batch.states)} runs did not finish ({failed[0].trial.label}, "
                         f"seed {failed[0].trial.seed}: {failed[0].error or failed[0].state})")  # fmt: skip
    if problems := [p for p in unsaved if p]:  # trained, but not kept: the next command would train them again
        raise ValueError(f"{len(problems)} finished run{'s' * (len(problems) != 1)} could not be saved: {problems[0]}")
    return batch


def _run_experiment(args: argparse.Namespace) -> int:
    from cnn_core.study.exercises import ExperimentConfig
    from cnn_core.study.experiments import experiment_result

    data = data_config(args)
    cfg = ExperimentConfig(exercise=args.exercise, seeds=args.seeds, data=data, train=train_config(args, data))
    batch = _run(cfg.trials(), data, args)
    result = experiment_result(cfg, batch.states)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    ex = EXERCISES[args.exercise]
    print(f"{ex.title}: {args.seeds} seed(s) per variant, {cfg.train.summary()}")
    print(f"{'variant':<22}{'test accuracy':>18}  {'per seed':<30}{'params':>12}{'MACs':>14}{'s/run':>8}")
    for v in result.variants:
        seeds = ", ".join(f"{a * 100:.1f}" for a in v.test_acc)
        print(f"{v.name:<22}{percent(v.mean, v.std):>18}  {seeds:<30}{v.params:>12,}{v.macs:>14,}{v.seconds:>8.1f}")
    print(f"verdict: {result.verdict}")
    print(result.answer)
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    from cnn_core.study.sweeps import (
        SweepConfig,
        best_caveat,
        best_trial,
        close_to_best,
        describe,
        parse_param,
        sweep_rows,
        val_interval,
    )

    params = tuple(parse_param(text) for text in args.param)
    data = data_config(args)
    mode, budget = ("random", args.random) if args.random is not None else ("grid", args.budget)
    cfg = SweepConfig(params, mode=mode, budget=budget, data=data, train=train_config(args, data))
    batch = _run(cfg.trials(), data, args)
    rows = sweep_rows(batch.states)
    best = best_trial(rows)
    if args.json:
        near = [r["trial"] for r in close_to_best(rows, best)]
        print(json.dumps({"mode": mode, "trials": rows, "best": best, "best_val_ci": val_interval(best),
                          "close_to_best": near}))  # fmt: skip
        return 0
    names = [k for k, _ in params]
    print(f"{'trial':>5}  {'settings':<40}{'val acc':>9}{'test acc':>10}{'params':>12}{'s':>7}")
    for r in rows:
        settings = describe({k: r[k] for k in names})
        print(f"{r['trial']:>5}  {settings:<40}{r['val_acc'] * 100:>8.1f}%{r['test_acc'] * 100:>9.1f}%"
              f"{r['params']:>12,}{r['seconds']:>7.1f}")  # fmt: skip
    print(f"best (on validation accuracy): trial {best['trial']}, {describe({k: best[k] for k in names})}: "
          f"val acc {best['val_acc'] * 100:.1f} %, test acc {best['test_acc'] * 100:.1f} %")  # fmt: skip
    print(best_caveat(rows, best))
    return 0
