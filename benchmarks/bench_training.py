"""Training speed: CNN Lab's engine against the tutorial loop, on the classic recipe, in one run.

    python benchmarks/bench_training.py [--epochs 30] [--threads N] [--repeats 1]

The classic recipe: SimpleCNN on the default shapes (4 × 250 images, 32×32, noise 0.1), 80/20 split,
Adam lr 1e-3 and weight decay 1e-4, step schedule (every 10 epochs ×0.5), batch 32, 30 epochs.
Both loops get the same model, weights seed, data, split, optimizer, schedule, batch size, epochs
and thread count. Each variant runs in its own process, so that its peak memory (ru_maxrss) is its own:
- tutorial: a DataLoader over a per-item Dataset (the seed notebook's section 3), evaluating each epoch;
- engine fp32: `cnn_core.training.engine.fit` in float32;
- engine auto: `fit` with its default precision ("auto": bfloat16 mixed precision where the CPU has it);
- engine augment: engine auto with every image randomly flipped, rotated up to 15° and shifted up to 10%
  (each image its own draw): the cost of augmentation.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_core.training.device import cpu_count  # noqa: E402

VARIANTS = ("tutorial", "engine-fp32", "engine-auto", "engine-augment")
AUGMENT = {"hflip": True, "rotation": 15.0, "translate": 0.1}


def classic():
    from cnn_core.data.config import DataConfig
    from cnn_core.data.dataset import make_dataset
    from cnn_core.nets.presets import network
    from cnn_core.training.config import TrainConfig

    ds = make_dataset(DataConfig(val_fraction=0.2, test_fraction=0.0))
    return ds, network("simple_cnn", ds.input_shape, ds.num_classes), TrainConfig()


def tutorial_loop(ds, spec, cfg) -> dict:
    """The straightforward loop of the seed notebook (section 3), on our data and split."""
    import torch
    import torch.nn as nn
    from torch.utils.data import DataLoader, Dataset

    from cnn_core.nets.build import build_model

    class ImageDataset(Dataset):
        def __init__(self, images, labels):
            self.images = torch.FloatTensor(images)
            self.labels = torch.LongTensor(labels)

        def __len__(self):
            return len(self.images)

        def __getitem__(self, idx):
            return self.images[idx], self.labels[idx]

    torch.manual_seed(cfg.seed)
    model = build_model(spec)
    train_loader = DataLoader(ImageDataset(*ds.split("train")), batch_size=cfg.batch_size, shuffle=True)
    test_loader = DataLoader(ImageDataset(*ds.split("val")), batch_size=64, shuffle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    criterion = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _epoch in range(cfg.epochs):
        model.train()
        total_loss = 0
        for X_batch, y_batch in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(X_batch), y_batch)
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
        model.eval()
        correct = 0
        with torch.no_grad():
            for X_batch, y_batch in test_loader:
                correct += (model(X_batch).argmax(1) == y_batch).sum().item()
        val_acc = correct / len(test_loader.dataset)
        scheduler.step()
    return {"seconds": time.perf_counter() - start, "val_acc": val_acc}


def run_variant(name: str, epochs: int, threads: int) -> dict:
    import torch

    from cnn_core.training.config import TrainConfig
    from cnn_core.training.engine import fit

    torch.set_num_threads(threads)
    ds, spec, cfg = classic()
    cfg = TrainConfig.from_dict({**cfg.to_dict(), "epochs": epochs})
    if name == "tutorial":
        result = tutorial_loop(ds, spec, cfg)
    else:
        precision = "fp32" if name == "engine-fp32" else "auto"
        extra = AUGMENT if name == "engine-augment" else {}
        run = fit(spec, ds, TrainConfig.from_dict({**cfg.to_dict(), "precision": precision, **extra}), device="cpu")
        result = {"seconds": run.summary["train_seconds"], "val_acc": run.summary["val_acc"],
                  "precision": run.summary["precision"]}  # fmt: skip
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=cpu_count(),
                        help="torch threads, the same for every variant (default: every core this process may use)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of all variants, interleaved")
    parser.add_argument("--only", choices=VARIANTS, help=argparse.SUPPRESS)  # one variant, in a child process
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_variant(args.only, args.epochs, args.threads)))
        return

    import os

    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"{args.threads} thread(s), {args.epochs} epochs, classic recipe")  # fmt: skip
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--only", variant, "--epochs", str(args.epochs), "--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[variant].append(json.loads(out.strip().splitlines()[-1]))
            r = results[variant][-1]
            print(f"  {variant:14s} {r['seconds']:7.1f} s   val acc {r['val_acc']:.3f}   peak RSS {r['peak_rss_mb']:.0f} MB"
                  + (f"   ({r['precision']})" if "precision" in r else ""), flush=True)  # fmt: skip
    for name, pick in (("best", min), ("median", statistics.median)):
        t = {v: pick([r["seconds"] for r in rs]) for v, rs in results.items()}
        print(f"{name} of {args.repeats}: tutorial {t['tutorial']:.1f} s, engine fp32 {t['engine-fp32']:.1f} s "
              f"({t['tutorial'] / t['engine-fp32']:.2f}× faster), engine auto {t['engine-auto']:.1f} s "
              f"({t['tutorial'] / t['engine-auto']:.2f}× faster), engine augmented {t['engine-augment']:.1f} s "
              f"({t['engine-augment'] / t['engine-auto']:.2f}× the engine's time)")  # fmt: skip
    print(f"load average now {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
