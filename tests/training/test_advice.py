"""Warnings before training: which settings trigger them, and which don't."""

import pytest

from cnn_core.training.advice import FAR_ABOVE, USUAL_LR, before_training, learning_rate_warning, split_warning
from cnn_core.training.config import OPTIMIZERS


def test_every_optimizer_has_a_usual_range():
    assert set(USUAL_LR) == set(OPTIMIZERS)


@pytest.mark.parametrize("optimizer,lr", [("adam", 0.03), ("adam", 10.0), ("adamw", 1.0), ("sgd", 1.0), ("sgd", 3.0)])
def test_a_rate_far_above_the_usual_range_is_warned_about(optimizer, lr):
    text = learning_rate_warning(optimizer, lr)
    assert text and f"{lr:g}" in text and "smaller" in text


@pytest.mark.parametrize("optimizer,lr", [("adam", 1e-3), ("adam", 0.01), ("adamw", 3e-4), ("sgd", 0.1), ("sgd", 0.3)])
def test_usual_rates_are_not_warned_about(optimizer, lr):
    assert learning_rate_warning(optimizer, lr) is None


def test_the_threshold_is_ten_times_the_top_of_the_usual_range():
    top = USUAL_LR["adam"][1]
    assert learning_rate_warning("adam", FAR_ABOVE * top * 0.99) is None
    assert learning_rate_warning("adam", FAR_ABOVE * top) is not None


def test_empty_splits_are_warned_about_with_the_fix():
    assert "validation split is empty" in split_warning(20, 0) and "Dataset page" in split_warning(20, 0)
    assert "nothing to learn" in split_warning(1, 5)
    assert split_warning(100, 10) is None


def test_all_warnings_together_most_serious_first():
    found = before_training("adam", 10.0, 30, 0, ["the adaptive pool upsamples"])
    assert [w.split()[0] for w in found] == ["The", "A", "the"] and len(found) == 3
    assert before_training("adam", 1e-3, 100, 20) == []
