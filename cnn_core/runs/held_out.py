"""The evaluation a worker computes as its run ends: the model's answers and penultimate features on the held-out
split (cnn_core.inspection.evaluate.Evaluation), sent back with the checkpoint's bytes so that the Evaluation page's
first visit finds them done instead of running the model in the web server.

Only a run that our own worker just sent carries one (`run_from_bytes`): a checkpoint file read from anywhere else
never does, since what a shared cache holds must be computed here from the weights it is keyed by, never read from a
file. A split too large to send cheaply (over MAX_BYTES of scores and features) is left to the page.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from cnn_core.inspection.evaluate import Evaluation, evaluate

logger = logging.getLogger(__name__)
KEY = "evaluation"  # the worker's payload entry, beside the checkpoint's own
MAX_BYTES = 4 * 2**20  # scores and features sent back (and held by the session) at most; a larger split: the page
ARRAYS = ("indices", "labels", "probs", "features")


def evaluation_payload(run, dataset) -> dict[str, Any] | None:
    """The run's evaluation on its dataset's held-out split (on the CPU, in float32, as the page computes it), as
    tensors and text for `torch.save(weights_only)`; None when the split is empty or too large to send."""
    import torch

    split = dataset.splits["test"] if len(dataset.splits["test"]) else dataset.splits["val"]
    model = run.build()
    features = next((m.in_features for m in reversed(list(model.modules())) if isinstance(m, torch.nn.Linear)), 0)
    if not len(split) or not features or 4 * len(split) * (dataset.num_classes + features) > MAX_BYTES:
        return None  # no linear layer (no penultimate features: the page says so), or too large to send
    try:
        ev = evaluate(model, dataset)
    except ValueError as exc:  # never fails the run it follows: the page evaluates it, and says what is wrong
        logger.warning("the run's held-out evaluation was left to the page: %s", exc)
        return None
    return {"split": ev.split, "notice": ev.notice, "classes": list(ev.classes),
            **{name: torch.from_numpy(np.ascontiguousarray(getattr(ev, name))) for name in ARRAYS}}  # fmt: skip


def evaluation_from(payload: Any) -> Evaluation | None:
    """The Evaluation a worker's payload entry holds; None (logged) when it is missing or malformed."""
    if payload is None:
        return None
    try:
        arrays = {name: payload[name].numpy() for name in ARRAYS}
        return Evaluation(str(payload["split"]), str(payload["notice"]), **arrays, classes=tuple(payload["classes"]))
    except (KeyError, TypeError, AttributeError) as exc:
        logger.warning("a worker's evaluation could not be read, the page will compute it: %r", exc)
        return None
