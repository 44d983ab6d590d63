"""The subcommands `data`, `summary`, `train` and `evaluate`: one section each, an `add_*` that declares its
options and a `_run_*` that does it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cnn_core.cli.data_options import PATH_HELP, add_data_options, data_config
from cnn_core.cli.options import (
    add_config_options,
    comma_list,
    config_from_args,
    input_file,
    output_file,
    read_config_file,
    read_text_file,
)
from cnn_core.training.device import DEVICE_CHOICES

MAX_THREADS = 1024  # --threads: more than any machine's cores

# ---------------------------------------------------------------- data


def add_data(sub) -> None:
    from cnn_core.data.config import DataConfig

    p = sub.add_parser("data", help="generate a dataset and save it as .npz")
    p.add_argument("--config", type=Path, help="a JSON file of DataConfig settings (or a run's configuration)")
    add_config_options(p, DataConfig, "data.", skip=("digest",))
    p.add_argument("--path", type=Path, help=PATH_HELP)
    p.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    p.set_defaults(run=_run_data)





def _run_data(args: argparse.Namespace) -> int:
    from cnn_core.data.dataset import make_dataset

    output_file(args.out)
    ds = make_dataset(data_config(args, read_config_file(args.config, "data_config").get("data_config", {})))
    try:
        args.out.write_bytes(ds.to_npz())
    except OSError as exc:
        raise ValueError(f"cannot write {args.out}: {exc.strerror}") from None
    c, h, w = ds.input_shape
    print(f"wrote {args.out}: {len(ds.labels)} images of {c}×{h}×{w}, classes {', '.join(ds.classes)}")
    return 0


# ---------------------------------------------------------------- summary


def _input_shape(text: str) -> tuple[int, int, int]:
    parts = comma_list(text)
    try:
        shape = tuple(int(v) for v in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"give three positive whole numbers C,H,W such as 3,32,32, got {text!r}")
    return shape  # type: ignore[return-value]


def add_summary(sub) -> None:
    from cnn_core.nets.presets import NETWORKS

    p = sub.add_parser("summary", help="per-layer output shape, parameters, MACs and receptive field of a network")
    p.add_argument("--arch", required=True, help=f"a preset ({', '.join(NETWORKS)}) or a JSON spec file")
    p.add_argument("--input", type=_input_shape, help="input shape C,H,W (default: the file's, or 3,32,32)")
    p.add_argument("--classes", type=int, help="number of classes (default: the file's, or 4)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=_run_summary)


def load_arch(arch: str, input: tuple[int, int, int] | None, classes: int | None):
    """The ModelSpec named by --arch: a preset name, or the path of a JSON spec file."""
    from cnn_core.nets.presets import NETWORKS, load_spec

    if arch not in NETWORKS:
        if not Path(arch).exists():
            raise ValueError(f"--arch {arch[:80]!r} is neither a preset ({', '.join(NETWORKS)}) nor an existing JSON file")
        arch = read_text_file(input_file(Path(arch)))
    if classes is not None and classes < 2:
        raise ValueError(f"--classes must be at least 2, got {classes}")
    return load_spec(arch, input, classes)


def _run_summary(args: argparse.Namespace) -> int:
    from cnn_core.nets.shapes import shape_text
    from cnn_core.nets.summary import format_bytes, format_count, summarize

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


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a checkpoint on its dataset's test split")
    p.add_argument("--checkpoint", type=Path, required=True, help="a .pt file saved by the Training page or CLI")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--json", action="store_true", help="print accuracy, per-class report and confusion matrix as JSON")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from cnn_core.data.dataset import make_dataset
    from cnn_core.inspection.evaluate import check_compatible, confusion, evaluate, report
    from cnn_core.runs.checkpoint import load_checkpoint
    from cnn_core.training.device import detect_device

    run = load_checkpoint(input_file(args.checkpoint))
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


def add_train(sub) -> None:
    from cnn_core.training.config import CLASSIC_SPLIT, TrainConfig

    p = sub.add_parser("train", help="train a model on a dataset (defaults: the classic recipe)")
    p.add_argument("--config", type=Path, help="a run's configuration JSON (the Training page's download) or a JSON "
                   "object of TrainConfig settings: its values, then any flag given here")  # fmt: skip
    p.add_argument("--arch", help="a preset name or a JSON spec file (default: the --config file's spec, else simple_cnn)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where to train (default: auto, the fastest)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", type=Path, help="write the checkpoint (.pt) here")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    add_config_options(p, TrainConfig, "train.")
    add_data_options(p, defaults=CLASSIC_SPLIT)
    p.set_defaults(run=_run_train)


def train_request(args: argparse.Namespace):
    """(DataConfig, TrainConfig, --arch or the file's ModelSpec) from the defaults, the --config file and the flags."""
    from cnn_core.nets.spec import ModelSpec
    from cnn_core.training.config import CLASSIC_SPLIT, TrainConfig

    file = read_config_file(args.config, "train_config")
    data_cfg = data_config(args, {**CLASSIC_SPLIT, **file.get("data_config", {})})
    train_cfg = config_from_args(TrainConfig, args, "train.", file.get("train_config", {}))
    spec = ModelSpec.from_dict(file["spec"]) if "spec" in file else None
    return data_cfg, train_cfg, args.arch or spec or "simple_cnn"


def _run_train(args: argparse.Namespace) -> int:
    from cnn_core.data.dataset import make_dataset
    from cnn_core.nets.build import check_fits
    from cnn_core.runs.checkpoint import save_checkpoint
    from cnn_core.runs.launch import train_one
    from cnn_core.runs.request import TrainRequest

    output_file(args.out)  # before the work: a run trained for nothing is the worst refusal
    data_cfg, cfg, arch = train_request(args)
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise ValueError(f"--threads must be from 1 to {MAX_THREADS}, got {args.threads}")
    shape, n = (data_cfg.channels, data_cfg.size, data_cfg.size), len(data_cfg.classes)  # the dataset's images
    spec = load_arch(arch, shape, n) if isinstance(arch, str) else arch.with_io(shape, n)
    check_budget(spec, cfg.batch_size)  # before any data is made or model built
    ds = make_dataset(data_cfg)  # checked before training starts, then trained on (a Ray node builds its own)
    check_fits(spec, ds.input_shape, ds.classes, "the dataset's images differ from its settings")
    request = TrainRequest(data_cfg, spec, cfg, args.device, args.threads or 0, who="cli")
    run, executor = train_one(request, None if args.json else _print_epoch, ds)  # here, or on $CNN_LAB_RAY_ADDRESS
    if args.out is not None:
        try:
            save_checkpoint(run, args.out)
        except OSError as exc:
            raise ValueError(f"cannot write {args.out}: {exc.strerror}") from None
    _print_run(run, executor, args)
    return 0


def check_budget(spec, batch_size: int, label: str = "") -> None:
    """ValueError when the network is too large for this machine's memory plan; a warning on stderr when large."""
    from cnn_core.runs.resources import check_network

    verdict = check_network(spec, batch_size)
    if verdict.refused:
        raise ValueError(f"{label}{verdict.message}")
    if verdict.message:
        print(f"warning: {label}{verdict.message}", file=sys.stderr)


def _print_epoch(h: dict) -> None:
    print(f"epoch {h['epoch']:3d}  loss {h['train_loss']:.4f}  acc {h['train_acc']:.3f}  "
          f"val loss {h['val_loss']:.4f}  val acc {h['val_acc']:.3f}  lr {h['lr']:.2g}  {h['seconds']:.1f} s",
          flush=True)  # fmt: skip


def _print_run(run, executor: str, args: argparse.Namespace) -> None:
    s = run.summary
    if args.json:
        keys = ("val_acc", "val_loss", "epochs_run", "train_seconds", "device", "params", "status", "reason", "precision")
        print(json.dumps({**{k: s[k] for k in keys}, "executor": executor, "run_id": run.run_id}))
    else:
        print(f"{s['status']}: {s['reason']}. val acc {s['val_acc']:.4f}, val loss {s['val_loss']:.4f}, "
              f"{s['epochs_run']} epoch(s) in {s['train_seconds']:.1f} s on {s['device_name']} ({s['precision']}), "
              f"{s['params']:,} parameters" + (f"; wrote {args.out}" if args.out else ""))  # fmt: skip


