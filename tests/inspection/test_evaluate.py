import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.inspection.evaluate import (
    Evaluation,
    check_compatible,
    confusion,
    embed,
    evaluate,
    held_out_split,
    mistakes,
    predict,
    report,
)
from cnn_core.nets.presets import network
from tests.eval_helpers import trained_run


@pytest.fixture(scope="module")
def digits():
    run = trained_run()
    ds = make_dataset(run.data_config)
    model = run.build()
    return run, ds, model, evaluate(model, ds)


def _evaluation(labels, preds, probs=None, k=3) -> Evaluation:
    labels, preds = np.asarray(labels), np.asarray(preds)
    if probs is None:
        probs = np.full((len(labels), k), 0.1 / (k - 1), np.float32)
        probs[np.arange(len(labels)), preds] = 0.9
    return Evaluation("test", "", np.arange(len(labels)), labels, np.asarray(probs, np.float32),
                      np.zeros((len(labels), 2), np.float32), tuple("abc"[:k]))  # fmt: skip


# ---------------------------------------------------------------- metrics


def test_confusion_matrix_matches_a_hand_worked_example():
    labels = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 2, 0]
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    np.testing.assert_array_equal(confusion(labels, preds, 3), expected)
    np.testing.assert_allclose(confusion(labels, preds, 3, normalize=True), expected / 2)


def test_report_matches_a_hand_worked_example():
    rep = report(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0]), ("a", "b", "c"))
    np.testing.assert_allclose(rep.precision, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(rep.recall, [1 / 2, 1, 1 / 2])
    np.testing.assert_allclose(rep.f1, [1 / 2, 0.8, 2 / 3])
    np.testing.assert_array_equal(rep.support, [2, 2, 2])
    assert rep.accuracy == pytest.approx(4 / 6)
    macro = rep.rows()[-1]
    assert macro["class"] == "macro average" and macro["support"] == 6
    assert macro["recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)


def test_metrics_equal_scikit_learns_on_a_trained_models_predictions(digits):
    _, ds, _, ev = digits
    labels, preds = ev.labels, ev.preds
    k = ds.num_classes
    np.testing.assert_array_equal(confusion(labels, preds, k), confusion_matrix(labels, preds, labels=range(k)))
    counts = confusion_matrix(labels, preds, labels=range(k))
    np.testing.assert_allclose(confusion(labels, preds, k, normalize=True), counts / counts.sum(axis=1, keepdims=True))
    rep = report(labels, preds, ds.classes)
    reference = classification_report(labels, preds, labels=range(k), output_dict=True, zero_division=0)
    for c in range(k):
        assert rep.precision[c] == pytest.approx(reference[str(c)]["precision"])
        assert rep.recall[c] == pytest.approx(reference[str(c)]["recall"])
        assert rep.f1[c] == pytest.approx(reference[str(c)]["f1-score"])
        assert rep.support[c] == reference[str(c)]["support"]
    assert rep.accuracy == pytest.approx(accuracy_score(labels, preds))
    assert rep.rows()[-1]["f1"] == pytest.approx(reference["macro avg"]["f1-score"])


def test_a_class_never_predicted_scores_zero_precision_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = report(np.array([0, 1, 2]), np.array([0, 0, 0]), ("a", "b", "c"))
    np.testing.assert_array_equal(rep.precision, [1 / 3, 0, 0])


def test_a_class_absent_from_the_split_gets_an_empty_row():
    normalised = confusion(np.array([0, 0, 1]), np.array([0, 1, 1]), 3, normalize=True)
    np.testing.assert_array_equal(normalised[2], [0, 0, 0])
    np.testing.assert_allclose(normalised[:2].sum(axis=1), 1.0)


# ---------------------------------------------------------------- predictions


def test_probabilities_are_the_softmax_of_the_models_scores_on_the_test_split(digits):
    _, ds, model, ev = digits
    images, labels = ds.split("test")
    with torch.no_grad():
        reference = torch.softmax(model(torch.from_numpy(images.copy())), dim=1).numpy()
    assert ev.split == "test" and ev.notice == ""
    np.testing.assert_array_equal(ev.labels, labels)
    np.testing.assert_array_equal(ev.indices, ds.splits["test"])
    np.testing.assert_allclose(ev.probs, reference, atol=1e-5)
    np.testing.assert_allclose(ev.probs.sum(axis=1), 1.0, atol=1e-5)


def test_small_batches_give_the_same_probabilities(digits):
    _, ds, model, ev = digits
    images, _ = ds.split("test")
    np.testing.assert_allclose(predict(model, images, batch_size=7), ev.probs, atol=1e-5)


def test_features_are_what_the_last_linear_layer_reads(digits):
    _, ds, model, ev = digits
    images, _ = ds.split("test")
    with torch.no_grad():
        reference = model[:-1](torch.from_numpy(images.copy())).numpy()  # digits_small ends with its last linear
    assert ev.features.shape == (len(images), 64)
    np.testing.assert_allclose(ev.features, reference, atol=1e-5)


def test_a_dataset_without_a_test_split_is_evaluated_on_validation_with_a_notice():
    ds = make_dataset(DataConfig(dataset="digits", n_per_class=20, test_fraction=0.0, val_fraction=0.2))
    split, notice = held_out_split(ds)
    assert split == "val" and "validation" in notice
    model = trained_run().build()
    ev = evaluate(model, ds)
    assert ev.split == "val" and ev.notice
    np.testing.assert_array_equal(ev.indices, ds.splits["val"])


def test_a_dataset_without_held_out_images_is_refused():
    ds = make_dataset(DataConfig(dataset="digits", n_per_class=20, test_fraction=0.0, val_fraction=0.0))
    with pytest.raises(ValueError, match="no test or validation images"):
        held_out_split(ds)


# ---------------------------------------------------------------- mistakes


def test_mistakes_are_the_wrong_answers_most_confident_first():
    labels = [0, 1, 2, 0, 1]
    preds = [1, 1, 0, 2, 0]
    probs = np.array([[0.3, 0.7, 0], [0, 1, 0], [0.9, 0, 0.1], [0.2, 0, 0.8], [0.6, 0.4, 0]])
    wrong = mistakes(_evaluation(labels, preds, probs))
    assert [m.index for m in wrong] == [2, 3, 0, 4]
    assert [(m.true, m.predicted) for m in wrong] == [(2, 0), (0, 2), (0, 1), (1, 0)]
    assert [m.confidence for m in wrong] == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert [m.index for m in mistakes(_evaluation(labels, preds, probs), limit=2)] == [2, 3]


def test_mistakes_of_a_trained_model_name_dataset_images(digits):
    _, ds, _, ev = digits
    wrong = mistakes(ev)
    assert len(wrong) == int((ev.preds != ev.labels).sum())
    for m in wrong:
        assert ds.labels[m.index] == m.true != m.predicted
    assert all(a.confidence >= b.confidence for a, b in zip(wrong, wrong[1:]))


def test_a_mistake_carries_its_position_in_the_evaluated_split_the_numbering_the_page_shows(digits):
    _, ds, _, ev = digits
    for m in mistakes(ev):
        assert ev.indices[m.position] == m.index and ev.labels[m.position] == m.true


# ---------------------------------------------------------------- compatibility and embedding


def test_a_spec_for_another_input_or_class_count_is_refused(digits):
    run, ds, _, _ = digits
    check_compatible(run.spec, ds)
    with pytest.raises(ValueError, match=r"expects 3×32×32 .* has 1×8×8"):
        check_compatible(network("simple_cnn"), ds)
    with pytest.raises(ValueError, match="scores 4 classes but its dataset has 10"):
        check_compatible(network("digits_small", (1, 8, 8), 4), ds)


def test_pca_embedding_is_the_projection_on_the_two_largest_directions(digits):
    _, _, _, ev = digits
    coords = embed(ev.features, "pca")
    centred = ev.features - ev.features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    reference = centred @ vt[:2].T
    for j in range(2):  # a principal direction's sign is arbitrary
        sign = np.sign(np.dot(coords[:, j], reference[:, j]))
        np.testing.assert_allclose(coords[:, j] * sign, reference[:, j], atol=1e-3)
    np.testing.assert_allclose(coords, PCA(2, random_state=0).fit_transform(ev.features), atol=1e-4)


def test_tsne_embedding_gives_finite_points_and_unknown_methods_are_refused(digits):
    _, _, _, ev = digits
    coords = embed(ev.features[:40], "tsne")
    assert coords.shape == (40, 2) and np.isfinite(coords).all()
    with pytest.raises(ValueError, match="unknown embedding 'umap'"):
        embed(ev.features, "umap")
    with pytest.raises(ValueError, match="at least 3 images"):
        embed(ev.features[:2])


# ---------------------------------------------------------------- CLI


def test_cli_evaluate_prints_scikit_learns_accuracy_and_report(digits, tmp_path, capsys):
    import json

    from cnn_core.cli.main import main
    from cnn_core.runs.checkpoint import save_checkpoint

    run, _, _, ev = digits
    save_checkpoint(run, tmp_path / "run.pt")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run.pt"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "test" and out["images"] == len(ev.labels)
    assert out["accuracy"] == pytest.approx(accuracy_score(ev.labels, ev.preds))
    reference = classification_report(ev.labels, ev.preds, output_dict=True, zero_division=0)
    assert [r["f1"] for r in out["report"][:-1]] == pytest.approx([reference[str(k)]["f1-score"] for k in range(10)])
    assert out["confusion"] == confusion_matrix(ev.labels, ev.preds).tolist()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run.pt")]) == 0
    assert f"accuracy on test: {accuracy_score(ev.labels, ev.preds):.4f}" in capsys.readouterr().out


def test_cli_evaluate_reports_a_bad_checkpoint_in_one_line(tmp_path, capsys):
    from cnn_core.cli.main import main

    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "bad.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: it is not a PyTorch checkpoint") and err.count("\n") == 1


def test_the_scores_import_no_scikit_learn():
    """The Evaluation page's first visit computes its scores without importing scikit-learn (about a second of a
    web server's CPU)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys, numpy as np; from cnn_core.inspection.evaluate import confusion, report; "
            "y = np.array([0, 1, 2, 1]); confusion(y, y[::-1], 3, normalize=True); report(y, y[::-1], ('a', 'b', 'c')); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout[-500:] + out.stderr[-1000:]
