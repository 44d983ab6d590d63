"""`python -m cnn_core …`: the core's functions on the command line.

Bad arguments exit with code 2 and one line on stderr; results go to stdout or to --out.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, not a usage block."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(f"{self.prog}: error: {message}")


class _UsageError(Exception):
    pass


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


# ---------------------------------------------------------------- data


def add_data_arguments(p: argparse.ArgumentParser, *, val_fraction: float = 0.15, test_fraction: float = 0.15,
                       seed_flag: str = "--seed") -> None:
    """The DataConfig options, shared by every subcommand that builds a dataset."""
    p.add_argument("--dataset", choices=("shapes", "digits"), default="shapes")
    p.add_argument("--classes", type=_comma_list, help="comma-separated class names (default: the dataset's)")
    p.add_argument("--n-per-class", type=int, default=250)
    p.add_argument("--size", type=int, help="image side in pixels (default 32 for shapes, 8 for digits)")
    p.add_argument("--noise", type=float, help="pixel noise std (default 0.1 for shapes, 0 for digits)")
    p.add_argument("--position-jitter", type=float, default=0.0)
    p.add_argument("--scale-jitter", type=float, default=0.0)
    p.add_argument("--rotation", type=float, default=0.0, help="max rotation in degrees")
    p.add_argument("--color-mode", choices=("per_class", "random"), default="per_class")
    p.add_argument("--clutter", type=int, default=0, help="distractor blobs per image")
    p.add_argument("--val-fraction", type=float, default=val_fraction)
    p.add_argument("--test-fraction", type=float, default=test_fraction)
    p.add_argument(seed_flag, dest="data_seed", type=int, default=42, help="the dataset's seed (images and split)")


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="generate a dataset and save it as .npz")
    add_data_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    p.set_defaults(run=_run_data)


def data_config_from_args(args: argparse.Namespace):
    from cnn_core.data import DataConfig

    return DataConfig(
        dataset=args.dataset,
        classes=args.classes or (),
        n_per_class=args.n_per_class,
        size=args.size,
        noise=args.noise,
        position_jitter=args.position_jitter,
        scale_jitter=args.scale_jitter,
        rotation=args.rotation,
        color_mode=args.color_mode,
        clutter=args.clutter,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.data_seed,
    )


def _run_data(args: argparse.Namespace) -> int:
    from cnn_core.data import make_dataset

    ds = make_dataset(data_config_from_args(args))
    try:
        args.out.write_bytes(ds.to_npz())
    except OSError as exc:
        raise ValueError(f"cannot write {args.out}: {exc.strerror}") from None
    c, h, w = ds.input_shape
    print(f"wrote {args.out}: {len(ds.labels)} images of {c}×{h}×{w}, classes {', '.join(ds.classes)}")
    return 0


# ---------------------------------------------------------------- summary


def _input_shape(text: str) -> tuple[int, int, int]:
    parts = _comma_list(text)
    try:
        shape = tuple(int(v) for v in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"give three positive whole numbers C,H,W such as 3,32,32, got {text!r}")
    return shape  # type: ignore[return-value]


def _add_summary(sub) -> None:
    from cnn_core.spec import PRESETS

    p = sub.add_parser("summary", help="per-layer output shape, parameters, MACs and receptive field of a network")
    p.add_argument("--arch", required=True, help=f"a preset ({', '.join(PRESETS)}) or a JSON spec file")
    p.add_argument("--input", type=_input_shape, help="input shape C,H,W (default: the file's, or 3,32,32)")
    p.add_argument("--classes", type=int, help="number of classes (default: the file's, or 4)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=_run_summary)


def load_arch(arch: str, input: tuple[int, int, int] | None, classes: int | None):
    """The ModelSpec named by --arch: a preset name, or the path of a JSON spec file."""
    from cnn_core.spec import PRESETS, load_spec

    if arch not in PRESETS:
        path = Path(arch)
        if not path.is_file():
            raise ValueError(f"--arch {arch!r} is neither a preset ({', '.join(PRESETS)}) nor an existing JSON file")
        try:
            arch = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
    if classes is not None and classes < 2:
        raise ValueError(f"--classes must be at least 2, got {classes}")
    return load_spec(arch, input, classes)


def _run_summary(args: argparse.Namespace) -> int:
    import json

    from cnn_core.summary import format_bytes, format_count, shape_text, summarize

    summary = summarize(load_arch(args.arch, args.input, args.classes))
    if summary.error is not None:
        raise summary.error
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
        return 0
    spec = summary.spec
    print(f"input {shape_text(spec.input)}, {spec.num_classes} classes")
    head = f"{'#':>3}  {'name':<11}{'type':<18}{'output':>12}{'params':>12}{'MACs':>14}{'RF':>6}{'jump':>6}{'memory':>10}"
    print(head)
    print("-" * len(head))
    for r in summary.rows:
        rf = "-" if r.receptive_field is None else r.receptive_field
        jump = "-" if r.jump is None else f"{r.jump:g}"
        print(f"{r.index:>3}  {r.name:<11}{r.type:<18}{shape_text(r.output_shape):>12}{r.params:>12,}{r.macs:>14,}"
              f"{rf:>6}{jump:>6}{format_bytes(r.memory):>10}")
    print("-" * len(head))
    print(f"total: {summary.total_params:,} parameters (+ {summary.total_buffers:,} non-trainable), "
          f"{summary.total_macs:,} MACs ({format_count(summary.total_macs)}) per image, "
          f"activations {format_bytes(summary.activation_bytes)} per image")
    return 0


# ---------------------------------------------------------------- evaluate


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a checkpoint on its dataset's test split")
    p.add_argument("--checkpoint", type=Path, required=True, help="a .pt file saved by the Training page or CLI")
    p.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default="auto")
    p.add_argument("--json", action="store_true", help="print accuracy, per-class report and confusion matrix as JSON")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    from cnn_core.checkpoint import load_checkpoint
    from cnn_core.data import make_dataset
    from cnn_core.device import detect_device
    from cnn_core.evaluate import check_compatible, confusion, evaluate, report

    run = load_checkpoint(args.checkpoint)
    ds = make_dataset(run.data_config)
    check_compatible(run.spec, ds)
    ev = evaluate(run.build(detect_device(args.device)), ds)
    rep = report(ev.labels, ev.preds, ev.classes)
    if args.json:
        matrix = confusion(ev.labels, ev.preds, len(ev.classes)).tolist()
        print(json.dumps({"split": ev.split, "notice": ev.notice, "images": len(ev.labels), "accuracy": rep.accuracy,
                          "report": rep.rows(), "confusion": matrix}, indent=2))  # fmt: skip
        return 0
    if ev.notice:
        print(f"note: {ev.notice}", file=sys.stderr)
    print(f"accuracy on {ev.split}: {rep.accuracy:.4f} ({len(ev.labels)} images)")
    width = max(len(r["class"]) for r in rep.rows())
    print(f"{'class':<{width}}  precision  recall      f1  support")
    for r in rep.rows():
        print(f"{r['class']:<{width}}  {r['precision']:9.3f}  {r['recall']:6.3f}  {r['f1']:6.3f}  {r['support']:7d}")
    return 0


# ---------------------------------------------------------------- train


def _add_train(sub) -> None:
    from cnn_core.train import OPTIMIZERS, PRECISIONS, SCHEDULES

    p = sub.add_parser("train", help="train a model on a dataset (defaults: the classic recipe)")
    add_data_arguments(p, val_fraction=0.2, test_fraction=0.0, seed_flag="--data-seed")
    p.add_argument("--arch", default="simple_cnn", help="a preset name or a JSON spec file (default simple_cnn)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (the peak for one_cycle)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--schedule", choices=SCHEDULES, default="step")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--patience", type=int, default=0, help="early stopping after N epochs without progress (0: off)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto")
    p.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default="auto")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="the training seed (weights, shuffling, dropout)")
    p.add_argument("--out", type=Path, help="write the checkpoint (.pt) here")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(run=_run_train)


def train_config_from_args(args: argparse.Namespace):
    from cnn_core.train import TrainConfig

    return TrainConfig(optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
                       batch_size=args.batch_size, epochs=args.epochs, label_smoothing=args.label_smoothing,
                       patience=args.patience, precision=args.precision, seed=args.seed)  # fmt: skip


def _run_train(args: argparse.Namespace) -> int:
    import json

    from cnn_core.checkpoint import save_checkpoint
    from cnn_core.data import make_dataset
    from cnn_core.executor import TrainRequest, train_to_end

    cfg = train_config_from_args(args)
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    data_config = data_config_from_args(args)
    ds = make_dataset(data_config)  # here only to fit --arch to its images and classes; the worker builds its own
    spec = load_arch(args.arch, ds.input_shape, ds.num_classes)

    def show(h: dict) -> None:
        print(f"epoch {h['epoch']:3d}  loss {h['train_loss']:.4f}  acc {h['train_acc']:.3f}  "
              f"val loss {h['val_loss']:.4f}  val acc {h['val_acc']:.3f}  lr {h['lr']:.2g}  {h['seconds']:.1f} s",
              flush=True)  # fmt: skip

    request = TrainRequest(data_config, spec, cfg, args.device, args.threads or 0, who="cli")
    run, executor = train_to_end(request, None if args.json else show)  # a worker process, or $CNN_LAB_RAY_ADDRESS
    if args.out is not None:
        try:
            save_checkpoint(run, args.out)
        except OSError as exc:
            raise ValueError(f"cannot write {args.out}: {exc.strerror}") from None
    s = run.summary
    if args.json:
        keys = ("val_acc", "val_loss", "epochs_run", "train_seconds", "device", "params", "status", "reason", "precision")
        print(json.dumps({**{k: s[k] for k in keys}, "executor": executor, "run_id": run.run_id}))
    else:
        print(f"{s['status']}: {s['reason']}. val acc {s['val_acc']:.4f}, val loss {s['val_loss']:.4f}, "
              f"{s['epochs_run']} epoch(s) in {s['train_seconds']:.1f} s on {s['device_name']} ({s['precision']}), "
              f"{s['params']:,} parameters" + (f"; wrote {args.out}" if args.out else ""))  # fmt: skip
    return 0


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cnn_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_data(sub)
    _add_summary(sub)
    _add_train(sub)
    _add_evaluate(sub)
    from cnn_core.cli_experiments import add_experiment_commands  # here: that module imports this one
    add_experiment_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly, as Unix tools do
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps Python's exit-time flush from failing again
        return 0
    return 2
