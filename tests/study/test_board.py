"""The class board's logic on registry-shaped rows: lessons, challenges, names and the teacher's passphrase."""

import random

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.study.board import (
    Challenge,
    clean_name,
    describe_lesson,
    group_by_lesson,
    leaderboard,
    lesson_of,
    passphrase_ok,
    random_name,
    runs_to_clear,
)
from cnn_core.study.board import test_accuracy as board_test_accuracy

EASY = DataConfig().to_dict()
HARD = DataConfig(classes=("circle", "triangle", "cross"), rotation=45, color_mode="random").to_dict()


def row(run_id, data=EASY, test_acc=0.9, params=50_000, saved=1.0, status="completed", who="Swift Otter 42"):
    return {"run_id": run_id, "key": run_id * 2, "status": status, "saved": saved, "who": who, "params": params,
            "test_acc": test_acc, "val_acc": test_acc, "layers": 7, "train_seconds": 3.0, "data_config": data}


def test_a_lesson_is_the_dataset_config_with_its_defaults_filled_in():
    explicit = DataConfig(classes=("circle", "square", "diagonal", "ring"), size=32, noise=0.1).to_dict()
    assert lesson_of(row("a1", EASY)) == lesson_of(row("b1", explicit)) != lesson_of(row("c1", HARD))
    assert lesson_of(row("a1", DataConfig(dataset="digits").to_dict())) != lesson_of(row("a1"))


def test_runs_group_by_lesson_newest_lesson_first():
    rows = [row("a1", EASY, saved=1), row("b1", HARD, saved=2), row("c1", EASY, saved=3), row("d1", HARD, saved=0.5)]
    lessons = group_by_lesson(rows)
    assert [lesson.key for lesson in lessons] == [lesson_of(rows[0]), lesson_of(rows[1])]
    assert [e["run_id"] for e in lessons[0].entries] == ["c1", "a1"]
    assert [e["run_id"] for e in lessons[1].entries] == ["b1", "d1"]
    assert lessons[1].title == "shapes: 3 classes, 32×32, 250 per class, noise 0.1, rotation 45°, random colours"


def test_describe_lesson_names_the_seed_only_when_it_is_not_the_default():
    assert "seed" not in describe_lesson(DataConfig())
    assert describe_lesson(DataConfig(dataset="digits", seed=7)) == "digits: 10 classes, 8×8, 183 per class, seed 7"


def test_a_challenge_ranks_by_score_within_the_parameter_budget():
    rows = [row("a1", test_acc=0.95, params=120_000), row("b1", test_acc=0.90, params=80_000),
            row("c1", test_acc=0.90, params=60_000), row("d1", test_acc=0.99, params=90_000, status="stopped"),
            row("e1", test_acc=0.70, params=100_000), row("f1", test_acc=None, params=10_000)]  # fmt: skip
    board = leaderboard(rows, Challenge(max_params=100_000))
    # a1 is over budget, d1 was stopped, f1 has no score; the 0.90 tie goes to the smaller network.
    assert [(e["run_id"], e["rank"]) for e in board] == [("c1", 1), ("b1", 2), ("e1", 3)]
    assert [e["run_id"] for e in leaderboard(rows, Challenge())] == ["a1", "c1", "b1", "e1"]
    assert Challenge(max_params=100_000).describe() == "best test accuracy under 100k parameters"


def test_a_challenge_rejects_a_bad_budget_or_metric():
    with pytest.raises(ValueError, match="at least 1"):
        Challenge(max_params=0)
    with pytest.raises(ValueError, match="unknown challenge metric"):
        Challenge(metric="loss")


def test_random_names_are_anonymous_and_reproducible():
    assert random_name(random.Random(3)) == random_name(random.Random(3))
    adjective, animal, number = random_name(random.Random(5)).split()
    assert adjective[0].isupper() and animal[0].isupper() and 10 <= int(number) <= 99


@pytest.mark.parametrize("text, message", [("   ", "choose a name"), ("x" * 25, "at most 24"),
                                           ("bad\x00name", "control characters")])  # fmt: skip
def test_a_typed_name_must_be_short_and_printable(text, message):
    with pytest.raises(ValueError, match=message):
        clean_name(text)


def test_a_typed_name_is_trimmed():
    assert clean_name("  Ada   L. ") == "Ada L."


def test_only_the_teachers_passphrase_clears_a_lesson():
    rows = [row("a1", EASY), row("b1", HARD), row("c1", EASY)]
    assert runs_to_clear(rows, lesson_of(rows[0]), "open sesame", "open sesame") == ["a1", "c1"]
    for given in ("", "open sesam", "open sesame ", "OPEN SESAME"):
        assert not passphrase_ok(given, "open sesame")
        with pytest.raises(PermissionError, match="not the teacher's passphrase"):
            runs_to_clear(rows, lesson_of(rows[0]), given, "open sesame")


def test_without_a_passphrase_set_nobody_can_clear():
    assert not passphrase_ok("", "") and not passphrase_ok("anything", None)
    with pytest.raises(PermissionError, match="CNN_LAB_TEACHER_PASSPHRASE"):
        runs_to_clear([row("a1")], lesson_of(row("a1")), "", None)


def test_test_accuracy_matches_scikit_learn_on_the_model_outputs():
    torch = pytest.importorskip("torch")
    from sklearn.metrics import accuracy_score

    from cnn_core.data.dataset import make_dataset
    from cnn_core.nets.build import build_model
    from cnn_core.nets.presets import network
    from cnn_core.training.run import TrainedRun

    ds = make_dataset(DataConfig(dataset="digits", n_per_class=40))
    spec = network("digits_small", ds.input_shape, ds.num_classes)
    torch.manual_seed(1)
    model = build_model(spec).eval()
    run = TrainedRun(spec, ds.config, {}, {k: v.clone() for k, v in model.state_dict().items()})
    images, labels = ds.split("test")
    with torch.no_grad():
        reference = accuracy_score(labels, model(torch.from_numpy(images)).argmax(1).numpy())
    assert board_test_accuracy(run, ds) == ("test", pytest.approx(reference))
