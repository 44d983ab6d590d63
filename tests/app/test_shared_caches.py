"""Caches shared by every session are keyed by what they hold: a checkpoint's declared run id changes nothing,
the dataset cache follows the server's memory plan, and a run key names the precision it trained in."""

import os
import subprocess
import sys

import numpy as np

from cnn_core.data.dataset import make_dataset
from cnn_core.inspection.evaluate import held_out_split, predict
from cnn_core.runs.checkpoint import checkpoint_bytes, load_checkpoint
from cnn_core.training.config import TrainConfig
from cnn_core.training.device import resolve_precision
from cnn_core.training.engine import fit
from cnn_core.training.run import run_key as config_key
from tests.conftest import ROOT
from tests.run_helpers import DATA, SPEC, make_run
from ui.eval_runs import evaluation, run_key


def test_a_checkpoint_declaring_another_run_s_id_with_other_weights_leaves_that_run_s_scores_alone():
    evaluation.clear()
    ds = make_dataset(DATA)
    owner = make_run(0)
    forged = make_run(1)  # other weights…
    forged.run_id = owner.run_id  # …under the owner's run id, as an edited upload would declare
    upload = load_checkpoint(checkpoint_bytes(forged))
    assert upload.run_id == owner.run_id
    split, _ = held_out_split(ds)
    images, _ = ds.split(split)
    mine = evaluation(run_key(owner), owner.build, ds)  # builds the model only if it must
    theirs = evaluation(run_key(upload), upload.build, ds)
    assert np.array_equal(theirs.preds, predict(upload.build(), images).argmax(1))  # the upload's own answers
    assert not np.array_equal(theirs.preds, mine.preds)
    again = evaluation(run_key(owner), owner.build, ds)  # what every other session sees for the owner's run
    assert np.array_equal(again.preds, predict(owner.build(), images).argmax(1))


def test_the_shared_dataset_cache_follows_the_plan_with_the_environment_s_limits():
    code = ("import ui.state as s; from cnn_core.runs.resources import server_plan; "
            "print(s._shared_dataset._info.max_entries, server_plan().dataset_entries)")  # fmt: skip
    env = {**os.environ, "CNN_LAB_MAX_RUNS": "64", "CNN_LAB_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    kept, planned = out.stdout.split()
    assert kept == planned, out.stderr[-1000:]


def test_a_run_key_records_the_precision_auto_resolved_to():
    import torch

    here = resolve_precision("auto", torch.device("cpu"))
    other = "fp32" if here == "bf16" else "bf16"

    def key(**train):
        return config_key(DATA, SPEC, TrainConfig(epochs=1, batch_size=16, **train), "cpu")

    assert key() == key(precision=here) and key() != key(precision=other)
    run = fit(SPEC, make_dataset(DATA), TrainConfig(epochs=1, batch_size=16), device="cpu")
    assert run.train_config["precision"] == here and run.key == key(precision=here)
