"""A run's worker evaluates it on the held-out split as it ends; the Evaluation page's first visit takes that
instead of running the model in the web server. A checkpoint file never carries one."""

import numpy as np
import pytest
import torch

from cnn_core.data.dataset import make_dataset
from cnn_core.inspection.evaluate import evaluate
from cnn_core.runs.checkpoint import checkpoint_bytes, load_checkpoint
from cnn_core.runs.request import run_from_bytes, train_request
from tests.helpers import open_page
from tests.run_helpers import TRAIN_DATA, TRAIN_INPUT, tiny_request


@pytest.fixture(scope="module")
def sent() -> bytes:
    """What a worker sends back, trained in this process (its threads as they are)."""
    request = tiny_request(epochs=1, threads=torch.get_num_threads())
    return train_request(request, stop=lambda: False, emit=lambda event: None)


def test_a_worker_s_run_carries_its_held_out_evaluation_and_a_file_never_does(sent):
    run = run_from_bytes(sent)
    done, reference = run.held_out, evaluate(run.build(), make_dataset(TRAIN_DATA))
    assert done is not None and done.split == reference.split == "test" and done.classes == reference.classes
    assert np.array_equal(done.indices, reference.indices) and np.array_equal(done.labels, reference.labels)
    assert np.allclose(done.probs, reference.probs, atol=1e-6) and np.allclose(done.features, reference.features, atol=1e-5)
    assert np.isclose(np.mean(done.preds == done.labels), run.summary["test_acc"])  # the board's score, the same pass
    download = checkpoint_bytes(run)
    assert load_checkpoint(download).held_out is None  # an upload of it: computed again, never read from the file
    assert load_checkpoint(download, verify=False, extra=True)[1] == {}  # the download holds no evaluation


def test_the_first_evaluation_visit_runs_no_model_over_the_split_when_the_worker_did(sent, monkeypatch):
    import cnn_core.inspection.evaluate as ev_core
    from ui.eval_runs import evaluation

    calls = []
    real = ev_core.evaluate
    monkeypatch.setattr(ev_core, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    evaluation.clear()
    run = run_from_bytes(sent)
    expected = f"{np.mean(run.held_out.preds == run.held_out.labels):.1%}"
    at = open_page("app_pages/evaluation.py", 120, active_run=run)
    assert not at.exception and calls == []
    assert any(expected in m.value for m in at.metric if m.label == "Accuracy on test"), [m.value for m in at.metric]
    assert run.held_out is None  # handed to the shared cache; the session holds no copy

    evaluation.clear()
    again = open_page("app_pages/evaluation.py", 120, active_run=run)  # no evaluation with it (a file, an evicted one)
    assert not again.exception and calls == [1]


def test_a_network_without_a_linear_layer_trains_and_leaves_its_evaluation_to_the_page():
    from cnn_core.nets.layers import layer
    from cnn_core.nets.spec import ModelSpec
    from cnn_core.runs.held_out import evaluation_payload
    from cnn_core.training.config import TrainConfig
    from cnn_core.training.engine import fit

    spec = ModelSpec(TRAIN_INPUT, 3, (layer("conv2d", out_channels=3), layer("adaptiveavgpool2d", output_size=1),
                                    layer("flatten")))  # fmt: skip
    ds = make_dataset(TRAIN_DATA)
    run = fit(spec, ds, TrainConfig(epochs=1, batch_size=16), device="cpu")
    assert evaluation_payload(run, ds) is None
