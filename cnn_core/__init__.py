"""CNN Lab's core: datasets, convolution arithmetic, networks as data, training and evaluation.

The names a notebook needs are here, loaded on first use, so `import cnn_core` stays cheap and torch-free:

    from cnn_core import DataConfig, TrainConfig, evaluate, fit, make_dataset, network, report
    ds = make_dataset(DataConfig(dataset="shapes", n_per_class=100))
    spec = network("simple_cnn", ds.input_shape, ds.num_classes)
    run = fit(spec, ds, TrainConfig(epochs=3))
    ev = evaluate(run.build(), ds)
    accuracy = report(ev.labels, ev.preds, ds.classes).accuracy  # on the held-out test split

The folders, lowest first: conv and the config helpers (jsonconfig, settings); data, nets; training, inspection;
runs; study; cli. Each imports only from the folders below it (pyproject.toml's import-linter contracts).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name → the module that defines it
PUBLIC = {
    "DataConfig": "cnn_core.data.config",
    "ImageDataset": "cnn_core.data.dataset",
    "make_dataset": "cnn_core.data.dataset",
    "ModelSpec": "cnn_core.nets.spec",
    "network": "cnn_core.nets.presets",
    "load_spec": "cnn_core.nets.presets",
    "build_model": "cnn_core.nets.build",
    "summarize": "cnn_core.nets.summary",
    "TrainConfig": "cnn_core.training.config",
    "fit": "cnn_core.training.engine",
    "TrainedRun": "cnn_core.training.run",
    "evaluate": "cnn_core.inspection.evaluate",
    "report": "cnn_core.inspection.evaluate",
    "save_checkpoint": "cnn_core.runs.checkpoint",
    "load_checkpoint": "cnn_core.runs.checkpoint",
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in PUBLIC:
        raise AttributeError(f"module 'cnn_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(PUBLIC[name]), name)
    globals()[name] = value  # the next lookup doesn't come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC])

