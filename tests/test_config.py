"""Configs: every field's type and choices are checked, JSON round-trips, keys are stable, help comes from comments."""

import dataclasses
import json

import numpy as np
import pytest

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.training.config import TrainConfig


@pytest.mark.parametrize("cls, field, value, expected", [
    (TrainConfig, "batch_size", 2.5, "TrainConfig.batch_size must be a whole number, got 2.5"),
    (TrainConfig, "epochs", True, "TrainConfig.epochs must be a whole number, got True"),  # a bool is not a number
    (TrainConfig, "lr", "fast", "TrainConfig.lr must be a number, got 'fast'"),
    (TrainConfig, "lr", None, "TrainConfig.lr must be a number, got None"),
    (TrainConfig, "hflip", 1, "TrainConfig.hflip must be true or false, got 1"),
    (TrainConfig, "optimizer", 3, "TrainConfig.optimizer must be a text value, got 3"),
    (TrainConfig, "step_size", 2.0, "TrainConfig.step_size must be a whole number or null, got 2.0"),
    (DataConfig, "classes", "circle,square", "DataConfig.classes must be a list of text values, got 'circle,square'"),
    (DataConfig, "classes", ["circle", 2], "DataConfig.classes must be a list of text values"),
    (DataConfig, "size", "32", "DataConfig.size must be a whole number or null, got '32'"),
    (DataConfig, "noise", [0.1], "DataConfig.noise must be a number or null"),
])  # fmt: skip
def test_a_wrong_type_names_the_field_and_the_type(cls, field, value, expected):
    with pytest.raises(ValueError, match="^" + expected.replace("(", r"\(").replace(")", r"\)")):
        cls(**{field: value})
    with pytest.raises(ValueError, match=f"{cls.__name__}.{field} must be"):  # the same from JSON, not a TypeError
        cls.from_json(json.dumps({field: value}))


def test_whole_numbers_are_accepted_as_floats_and_become_floats():
    cfg = TrainConfig(lr=1, rotation=10, momentum=0)
    assert (cfg.lr, cfg.rotation, cfg.momentum) == (1.0, 10.0, 0.0) and isinstance(cfg.lr, float)
    assert cfg == TrainConfig(lr=1.0, rotation=10.0, momentum=0.0) and cfg.key() == TrainConfig(lr=1.0, rotation=10.0,
                                                                                                momentum=0.0).key()  # fmt: skip


def test_numpy_scalars_become_python_numbers_so_the_json_works():
    cfg = TrainConfig(batch_size=np.int64(16), lr=np.float32(0.5), hflip=np.bool_(True))
    assert type(cfg.batch_size) is int and type(cfg.lr) is float and cfg.hflip is True
    assert TrainConfig.from_json(cfg.to_json()) == cfg


def test_lists_become_tuples_so_configs_stay_hashable():
    cfg = DataConfig(classes=["circle", "ring"])
    assert cfg.classes == ("circle", "ring") and hash(cfg) == hash(DataConfig(classes=("circle", "ring")))


@pytest.mark.parametrize("cls, field, value, words", [
    (TrainConfig, "optimizer", "rmsprop", "unknown optimizer 'rmsprop'; expected one of sgd, adam, adamw"),
    (TrainConfig, "schedule", "linear", "unknown schedule 'linear'; expected one of none, step, cosine, one_cycle"),
    (TrainConfig, "precision", "fp16", "unknown precision 'fp16'; expected one of auto, fp32, bf16"),
    (DataConfig, "dataset", "cifar", "unknown dataset 'cifar'; expected one of shapes, digits"),
    (DataConfig, "color_mode", "rainbow", "unknown color_mode 'rainbow'; expected one of per_class, random"),
])  # fmt: skip
def test_choices_come_from_one_table(cls, field, value, words):
    assert value not in cls.CHOICES[field]
    with pytest.raises(ValueError, match=words):
        cls(**{field: value})


@pytest.mark.parametrize("field, value, words", [
    ("lr", 0.0, "learning rate"), ("lr", float("inf"), "learning rate"), ("batch_size", 0, "batch size"),
    ("epochs", 0, "epochs"), ("epochs", 1001, "epochs"), ("crop_scale", 0.0, "crop scale"),
    ("label_smoothing", 1.0, "label smoothing"), ("momentum", 1.0, "momentum"), ("step_size", 0, "step size"),
    ("gamma", 0.0, "factor"), ("patience", -1, "patience"), ("rotation", 181.0, "rotation"),
    ("translate", 0.6, "translation"), ("color_jitter", 1.5, "colour jitter"), ("weight_decay", 1.0, "weight decay"),
])  # fmt: skip
def test_out_of_range_train_settings_raise_clear_errors(field, value, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**{field: value})


def test_unknown_fields_and_non_objects_are_refused():
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ValueError, match="expects a JSON object, got list"):
        DataConfig.from_json("[1, 2]")
    with pytest.raises(ValueError, match="not valid JSON for TrainConfig"):
        TrainConfig.from_json("{lr: 1}")


@pytest.mark.parametrize("config", [
    TrainConfig(optimizer="sgd", lr=0.05, momentum=0.8, weight_decay=0.0, schedule="one_cycle", step_size=3, gamma=0.3,
                batch_size=64, epochs=12, label_smoothing=0.1, patience=2, rotation=15.0, hflip=True, translate=0.1,
                crop_scale=0.8, color_jitter=0.2, precision="fp32", seed=9),
    DataConfig(dataset="shapes", classes=("ring", "cross"), n_per_class=40, size=24, noise=0.0, position_jitter=0.1,
               scale_jitter=0.2, rotation=30.0, color_mode="random", clutter=2, val_fraction=0.2, test_fraction=0.1, seed=3),
    DataConfig(dataset="digits"),
])  # fmt: skip
def test_configs_round_trip_through_json_with_stable_keys(config):
    again = type(config).from_json(config.to_json())
    assert again == config and again.key() == config.key()
    assert type(config).from_json(json.dumps(json.loads(config.to_json()), indent=2)) == config


@pytest.mark.parametrize("cls", [TrainConfig, DataConfig, BlockDesign])
def test_every_field_has_help_from_its_comment(cls):
    help_ = cls.field_help()
    assert set(help_) == {f.name for f in dataclasses.fields(cls)} and all(help_.values())
    assert TrainConfig.field_help()["lr"].startswith("learning rate: the size of each step")
