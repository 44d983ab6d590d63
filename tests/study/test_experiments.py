"""Experiments and sweeps without training: the statistics against hand-worked numbers, the exercises'
variants against the configs they should differ in, and a sweep's trials."""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.nets.presets import network
from cnn_core.study.exercises import HARD_SHAPES, ExperimentConfig
from cnn_core.study.experiments import summarize_experiment
from cnn_core.study.statistics import compare, mean, points, sample_std
from cnn_core.study.sweeps import KNOBS, SweepConfig, _unrank, best_trial, parse_param, parse_value
from cnn_core.training.config import TrainConfig

BASE = [0.70, 0.74, 0.72]  # mean 0.72; deviations −0.02, +0.02, 0 → sample variance 0.0008 / 2 → std 0.02


# ---------------------------------------------------------------- statistics


def test_mean_and_sample_std_of_a_hand_worked_example():
    assert mean(BASE) == pytest.approx(0.72)
    assert sample_std(BASE) == pytest.approx(0.02)
    assert sample_std([0.75, 0.76, 0.77]) == pytest.approx(0.01)


def test_sample_std_divides_by_n_minus_one_like_statistics_stdev():
    values = [0.61, 0.93, 0.77, 0.70, 0.88]
    assert sample_std(values) == pytest.approx(statistics.stdev(values), abs=1e-15)
    assert sample_std(values) != pytest.approx(statistics.pstdev(values))


def test_one_value_has_no_sample_std():
    assert sample_std([0.5]) is None
    with pytest.raises(ValueError, match="no values"):
        mean([])


def test_a_gap_the_paired_test_finds_is_a_clear_difference():
    c = compare("a", BASE, "b", [0.80, 0.84, 0.83])  # differences 0.10, 0.10, 0.11: p = 0.001
    assert c.difference == pytest.approx(0.10333, abs=1e-5)
    assert c.paired and c.p < 0.01 and c.low > 0
    assert c.outcome == "better"
    assert compare("a", BASE, "b", [0.60, 0.61, 0.62]).outcome == "worse"  # −0.10, −0.13, −0.10


def test_a_gap_the_test_cannot_tell_from_luck_is_no_clear_difference():
    c = compare("a", BASE, "b", [0.73, 0.71, 0.75])  # differences +0.03, −0.03, +0.03
    assert c.difference == pytest.approx(0.01)
    assert c.outcome == "unclear" and c.low < 0 < c.high
    assert compare("a", [0.5, 0.5], "b", [0.5, 0.5]).outcome == "unclear"  # no gap, no spread
    # The old rule's "better": a 4-point gap against spreads of 2 and 1 points; the test says p = 0.057.
    assert compare("a", BASE, "b", [0.75, 0.76, 0.77]).outcome == "unclear"


def test_one_seed_gives_no_verdict():
    c = compare("a", [0.7], "b", [0.9])
    assert c.spread is None and c.p is None and c.outcome == "unclear"


def test_one_seed_reports_no_std_and_no_verdict():
    runs = lambda a: [{"test_acc": a, "test_loss": 0.5, "params": 1, "macs": 1, "seconds": 1.0}]  # noqa: E731
    r = summarize_experiment("loss", 1, {"cross-entropy": runs(0.7), "label smoothing 0.1": runs(0.9)})
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["variants"][0]["std"] is None
    assert d["comparisons"][0]["p"] is None and d["comparisons"][0]["outcome"] == "unclear"
    assert r.verdict == ("label smoothing 0.1: +20.0 points against cross-entropy, no verdict: one seed gives no "
                         "seed-to-seed spread to tell a real difference from luck; run at least two.")  # fmt: skip
    assert r.answer == ("Does label smoothing 0.1 help? Cannot tell: one seed gives no seed-to-seed spread to tell "
                        "a real difference from luck; run at least two.")  # fmt: skip


def test_points_are_percentage_points():
    assert points(0.0234) == "2.3 points"
    assert points(-0.01) == "1.0 point"
    assert points(None) == "—"


def _result(name="deeper", other=(0.80, 0.84, 0.83), base=BASE):
    cfg = ExperimentConfig(exercise=name)
    names = [v.name for v in cfg.variants()]
    runs = lambda accs, p: [{"test_acc": a, "test_loss": 1 - a, "params": p, "macs": 10 * p, "seconds": s}
                            for a, s in zip(accs, (2.0, 3.0, 4.0))]  # fmt: skip
    return summarize_experiment(name, 3, {names[0]: runs(base, 100), names[1]: runs(other, 200)})


def test_experiment_result_states_the_numbers_and_the_verdict():
    r = _result()
    assert [v.name for v in r.variants] == ["3 blocks", "4 blocks"]
    assert r.variants[1].mean == pytest.approx(0.8233, abs=1e-4) and r.variants[1].std == pytest.approx(0.0208, abs=1e-4)
    assert r.variants[0].loss_mean == pytest.approx(0.28)
    assert r.verdict == ("4 blocks: +10.3 points (95 % CI +8.9 to +11.8; p = 0.001; paired by seed): better than "
                         "3 blocks at 3 seeds.")  # fmt: skip
    assert r.answer == "Does deeper always win? Here the fourth block helped, by 10.3 points — but one task cannot " \
                       "show that deeper *always* wins."  # fmt: skip


def test_the_test_loss_gets_the_same_test_lower_being_better():
    r = _result()  # losses 1 − accuracy
    assert r.loss_verdict == ("Test loss: 4 blocks: −0.103 (95 % CI −0.118 to −0.089; p = 0.001; paired by seed): "
                              "lower (better) than 3 blocks at 3 seeds.")  # fmt: skip
    assert "no clear difference" in _result("loss", other=(0.73, 0.71, 0.75)).loss_verdict


def test_no_clear_difference_is_said_with_the_interval_and_the_seeds_it_would_take():
    r = _result("loss", other=(0.75, 0.76, 0.77))  # differences 0.05, 0.02, 0.05 (std 1.7 points)
    assert r.verdict == ("label smoothing 0.1: +4.0 points (95 % CI −0.3 to +8.3; p = 0.057; paired by seed): no "
                         "clear difference at 3 seeds; about 4 seeds would tell a 4-point gap.")  # fmt: skip
    assert r.answer == ("Does label smoothing 0.1 help? Not clearly, here: +4.0 points (95 % CI −0.3 to +8.3 "
                        "points).")  # fmt: skip


def test_holms_correction_names_the_comparisons_it_corrects_for():
    names = [v.name for v in ExperimentConfig(exercise="width").variants()]
    runs = lambda accs: [{"test_acc": a, "test_loss": 1 - a, "params": 1, "macs": 1, "seconds": 1.0}
                         for a in accs]  # fmt: skip
    r = summarize_experiment("width", 3, {names[0]: runs(BASE), names[1]: runs([0.60, 0.66, 0.62]),
                                          names[2]: runs([0.73, 0.75, 0.74])})  # fmt: skip
    half, double = r.comparisons
    assert half.family == double.family == 2
    assert half.p_adjusted == pytest.approx(2 * half.p)  # the smaller p-value, times 2
    assert double.p_adjusted == pytest.approx(max(double.p, 2 * half.p))
    assert "after Holm's correction for 2 comparisons" in r.verdict
    assert half.outcome == "worse" and double.outcome == "unclear"


def test_runs_with_other_seeds_are_compared_unpaired():
    runs = lambda accs, seeds: [{"test_acc": a, "test_loss": 1 - a, "params": 1, "macs": 1, "seconds": 1.0,
                                 "seed": s} for a, s in zip(accs, seeds)]  # fmt: skip
    r = summarize_experiment("loss", 3, {"cross-entropy": runs(BASE, (0, 1, 2)),
                                         "label smoothing 0.1": runs([0.75, 0.77], (0, 2))})  # fmt: skip
    assert not r.main.paired and "Welch's test, the runs are not paired" in r.verdict


def test_experiment_json_has_exactly_the_issues_fields():
    d = json.loads(json.dumps(_result().to_dict(), allow_nan=False))
    assert set(d) == {"exercise", "seeds", "variants", "comparisons", "verdict"}
    assert d["exercise"] == "deeper" and d["seeds"] == 3
    first = d["variants"][0]
    assert set(first) == {"name", "test_acc", "mean", "std", "params", "seconds"}
    assert first["test_acc"] == BASE and first["params"] == 100
    assert first["mean"] == pytest.approx(0.72) and first["std"] == pytest.approx(0.02)
    assert first["seconds"] == pytest.approx(3.0)  # mean training time of one run
    (c,) = d["comparisons"]
    assert set(c) == {"variant", "baseline", "difference", "ci_low", "ci_high", "p", "p_adjusted",
                      "comparisons_corrected", "seeds", "paired", "outcome"}  # fmt: skip
    assert c["variant"] == "4 blocks" and c["baseline"] == "3 blocks" and c["outcome"] == "better"
    assert c["ci_low"] < c["difference"] < c["ci_high"] and c["p"] == c["p_adjusted"] < 0.05


# ---------------------------------------------------------------- the exercises


def _differences(a, b) -> set[str]:
    da, db = a.to_dict(), b.to_dict()
    return {k for k in da if da[k] != db[k]}


@pytest.mark.parametrize(
    "name, design_fields, train_fields",
    [("deeper", {"num_blocks", "channels"}, set()), ("downsampling", {"downsample"}, set()),
     ("augmentation", set(), {"rotation"}), ("loss", set(), {"label_smoothing"}),
     ("width", {"channels"}, set()), ("batchnorm", {"batch_norm"}, set())],
)  # fmt: skip
def test_variants_differ_only_in_what_the_exercise_names(name, design_fields, train_fields):
    cfg = ExperimentConfig(exercise=name, seeds=2)
    variants = cfg.variants()
    assert len(variants) == (3 if name == "width" else 2)
    base = variants[0]
    for other in variants[1:]:
        assert _differences(base.design, other.design) == design_fields
        assert _differences(base.train, other.train) == train_fields
    trials = cfg.trials()
    assert {t.data for t in trials} == {cfg.data}  # the same data and split for every run
    assert [(t.label, t.seed) for t in trials] == [(v.name, s) for v in variants for s in (0, 1)]
    assert all(t.train.seed == t.seed for t in trials)
    assert len({t.key() for t in trials}) == len(trials)


def test_the_notebook_variants_are_the_notebooks_networks():
    cfg = ExperimentConfig(data=DataConfig(test_fraction=0.2))  # the classic 4 classes, 3×32×32
    spec = lambda exercise, i: ExperimentConfig(exercise=exercise, data=cfg.data).trials()[i * 3].spec  # noqa: E731
    assert spec("deeper", 0) == network("simple_cnn")
    assert spec("deeper", 1) == network("simple_cnn_4block")
    assert spec("downsampling", 1) == network("simple_cnn_stride2")


def test_the_exercise_values_are_the_notebooks():
    cfg = ExperimentConfig(exercise="augmentation")
    assert [v.train.rotation for v in cfg.variants()] == [0.0, 15.0]
    cfg = ExperimentConfig(exercise="loss")
    assert [v.train.label_smoothing for v in cfg.variants()] == [0.0, 0.1]
    cfg = ExperimentConfig(exercise="width")
    assert [v.design.channels for v in cfg.variants()] == [(32, 64, 128), (16, 32, 64), (64, 128, 256)]


def test_hard_shapes_take_the_colour_away_and_use_eight_classes():
    assert HARD_SHAPES.color_mode == "random" and len(HARD_SHAPES.classes) == 8
    assert HARD_SHAPES.position_jitter > 0 and HARD_SHAPES.scale_jitter > 0 and HARD_SHAPES.rotation > 0
    assert HARD_SHAPES.clutter > 0 and HARD_SHAPES.test_fraction > 0


def test_experiment_and_sweep_configs_round_trip_through_json():
    cfg = ExperimentConfig(exercise="width", seeds=5, train=TrainConfig(epochs=3))
    assert ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    sweep = SweepConfig((parse_param("lr=1e-3,1e-2"), parse_param("hflip=true")), mode="random", budget=2,
                        design=BlockDesign(batch_norm=False))  # fmt: skip
    assert SweepConfig.from_dict(json.loads(json.dumps(sweep.to_dict()))) == sweep
    with pytest.raises(ValueError, match="unknown SweepConfig field"):
        SweepConfig.from_dict({**sweep.to_dict(), "trials": 3})


@pytest.mark.parametrize(
    "kwargs, message",
    [({"exercise": "gradcam"}, "unknown exercise 'gradcam'"), ({"seeds": 0}, "seeds must be"),
     ({"seeds": 11}, "seeds must be"), ({"seeds": 2.5}, "seeds must be"),
     ({"data": DataConfig(test_fraction=0.0)}, "test share above 0"),
     ({"data": DataConfig(val_fraction=0.0)}, "validation share above 0")],
)  # fmt: skip
def test_bad_experiments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig(**kwargs)


def test_a_variant_that_cannot_take_the_images_is_refused_with_the_layer():
    digits = DataConfig(dataset="digits", test_fraction=0.2)  # 8×8: three halvings leave 1×1, a fourth breaks
    cfg = ExperimentConfig(exercise="deeper", data=digits, design=BlockDesign(downsample_last=True))
    with pytest.raises(ValueError, match="breaks at layer"):
        cfg.trials()


# ---------------------------------------------------------------- sweeps


def test_a_grid_has_every_combination_in_order():
    sweep = SweepConfig((parse_param("lr=1e-4,1e-3,1e-2"), parse_param("batch_size=32,128")))
    combos = sweep.combinations()
    assert combos == [{"lr": lr, "batch_size": b} for lr in (1e-4, 1e-3, 1e-2) for b in (32, 128)]
    trials = sweep.trials()
    assert [(t.train.lr, t.train.batch_size) for t in trials] == [tuple(c.values()) for c in combos]
    assert all(_differences(trials[0].train, t.train) <= {"lr", "batch_size"} for t in trials)
    assert len({t.key() for t in trials}) == 6


def test_a_random_search_draws_distinct_combinations_from_the_grid():
    params = (parse_param("lr=1e-4,3e-4,1e-3,3e-3"), parse_param("blocks=2,3,4"), parse_param("hflip=true,false"))
    sweep = SweepConfig(params, mode="random", budget=7, seed=3)
    grid = SweepConfig(params, budget=24).combinations()
    picks = sweep.combinations()
    assert len(picks) == 7 and all(p in grid for p in picks)
    assert len({tuple(p.values()) for p in picks}) == 7
    assert picks == SweepConfig(params, mode="random", budget=7, seed=3).combinations()  # the seed fixes the draw


def test_unrank_matches_itertools_product():
    grid = [(1, 2), ("a", "b", "c"), (True, False)]
    assert [_unrank(i, grid) for i in range(12)] == list(itertools.product(*grid))


def test_block_knobs_reshape_the_network():
    sweep = SweepConfig((("blocks", (2, 4)), ("width", (0.5,)), ("dropout", (0.0,))), data=DataConfig())
    designs = [t.spec for t in sweep.trials()]
    convs = [[lay.kwargs["out_channels"] for lay in s.layers if lay.type == "conv2d"] for s in designs]
    assert convs == [[16, 32], [16, 32, 64, 128]]
    assert not any(lay.type == "dropout2d" for s in designs for lay in s.layers)


def test_parse_values_by_the_configs_types():
    assert parse_param("lr=1e-4, 1e-2") == ("lr", (1e-4, 1e-2))
    assert parse_param("batch-size=16") == ("batch_size", (16,))
    assert parse_value("hflip", "Yes") is True and parse_value("batch_norm", "off") is False
    assert parse_value("optimizer", "sgd") == "sgd"
    assert {"lr", "batch_size", "weight_decay", "optimizer", "schedule", "epochs", "rotation", "blocks", "width",
            "dropout"} <= set(KNOBS)  # fmt: skip


@pytest.mark.parametrize(
    "text, message",
    [("seed=1,2", "unknown hyperparameter 'seed'"), ("colour=1", "unknown hyperparameter"),
     ("lr", "name=value1,value2"), ("lr=", "name=value1,value2"), ("batch_size=32.5", "whole numbers"),
     ("lr=fast", "numbers"), ("lr=nan", "finite"), ("hflip=maybe", "true or false"), ("lr=1e-3,0.001", "twice")],
)  # fmt: skip
def test_bad_sweep_parameters_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_param(text)


@pytest.mark.parametrize(
    "params, kwargs, message",
    [((("lr", (1e-3, 1e-2)), ("batch_size", (8, 16, 32))), {"budget": 5}, "grid has 6 combinations"),
     ((("lr", (1e-3, 1e-2)),), {"mode": "random", "budget": 3}, "has only 2"),
     ((("lr", (1e-3,)),), {"budget": 0}, "budget"), ((), {}, "at least one"),
     ((("lr", (1e-3,)), ("lr", (1e-2,))), {}, "only once"), ((("lr", (1e-3,)),), {"mode": "bayes"}, "unknown search"),
     ((("lr", (1e-3,)),), {"data": DataConfig(test_fraction=0.0)}, "test share above 0")],
)  # fmt: skip
def test_bad_sweeps_are_refused(params, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SweepConfig(params, **kwargs)


@pytest.mark.parametrize("param, message", [("batch_size=0", "batch size"), ("lr=-1", "learning rate"),
                                            ("width=0", "width must be above 0"), ("blocks=9", "num_blocks")])
def test_impossible_values_name_the_trial(param, message):
    sweep = SweepConfig((parse_param("epochs=1"), parse_param(param)))
    with pytest.raises(ValueError, match=f"epochs=1, {param.split('=')[0]}=.*{message}"):
        sweep.trials()


def test_the_best_trial_is_chosen_on_validation_accuracy():
    rows = [{"trial": 1, "val_acc": 0.8, "test_acc": 0.9, "params": 10},
            {"trial": 2, "val_acc": 0.9, "test_acc": 0.7, "params": 50},
            {"trial": 3, "val_acc": 0.9, "test_acc": 0.6, "params": 20},
            {"trial": 4, "val_acc": None, "test_acc": None, "params": 1}]  # fmt: skip
    assert best_trial(rows)["trial"] == 3  # best validation accuracy, then fewer parameters
    assert best_trial([rows[3]]) is None


def test_sweep_settings_apply_to_a_copy_of_the_base():
    base = TrainConfig(epochs=2)
    sweep = SweepConfig((parse_param("optimizer=sgd,adamw"),), train=base)
    assert [t.train for t in sweep.trials()] == [dataclasses.replace(base, optimizer=o) for o in ("sgd", "adamw")]


def test_the_best_trial_has_its_wilson_interval_and_the_trials_it_cannot_be_told_from():
    from scipy.stats import binomtest

    from cnn_core.study.sweeps import best_caveat, close_to_best, val_interval

    rows = [{"trial": 1, "val_acc": 180 / 200, "val_images": 200, "params": 10},
            {"trial": 2, "val_acc": 172 / 200, "val_images": 200, "params": 10},  # intervals overlap the best's
            {"trial": 3, "val_acc": 140 / 200, "val_images": 200, "params": 10},  # far below
            {"trial": 4, "val_acc": None, "val_images": None, "params": 10}]  # fmt: skip
    best = best_trial(rows)
    ci = binomtest(180, 200).proportion_ci(method="wilson")
    assert val_interval(best) == pytest.approx((ci.low, ci.high))
    assert [r["trial"] for r in close_to_best(rows, best)] == [2]
    assert best_caveat(rows, best).startswith(f"95 % interval {ci.low:.1%} to {ci.high:.1%} over its 200 validation")
    assert "cannot be told apart from trial 2" in best_caveat(rows, best)
    assert "no other trial" in best_caveat(rows[:1] + rows[2:], best)
    assert val_interval(rows[3]) is None and best_caveat(rows, {**best, "val_images": None}) == ""
