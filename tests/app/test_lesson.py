"""A lesson link: every setting round-trips through the query parameters, bad values are dropped with a notice,
and presenting mode hides what it names and nothing else."""

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.training.config import TrainConfig, suggested_config
from ui.lesson.params import BY_NAME, PARAMS, lesson_query, lesson_url, parse_link, train_defaults
from ui.lesson.presenting import parse_view, view_css
from ui.lesson.values import Choice, Counts, Flag, Number, Subset, format_value, quote

HARD = DataConfig(classes=("circle", "triangle", "cross"), n_per_class=120, size=48, noise=0.2, position_jitter=0.15,
                  scale_jitter=0.3, rotation=45.0, color_mode="random", clutter=3, val_fraction=0.2,
                  test_fraction=0.1, seed=7)  # fmt: skip
DESIGN = BlockDesign(num_blocks=2, channels=(8, 24), kernel_size=5, downsample="stride", downsample_last=True,
                     batch_norm=False, activation="gelu", dropout=0.1, head_pool=2, hidden=64, head_dropout=0.3)  # fmt: skip
TRAIN = TrainConfig(optimizer="sgd", lr=0.03, momentum=0.8, weight_decay=1e-3, schedule="cosine", step_size=4,
                    gamma=0.25, batch_size=64, epochs=3, patience=2, label_smoothing=0.1, rotation=15.0, hflip=True,
                    translate=0.1, crop_scale=0.8, color_jitter=0.2, precision="fp32", seed=5)  # fmt: skip


def test_every_setting_differs_from_its_default_in_the_round_trip_fixtures():
    """So that the round trip below carries every parameter, none left at its default."""
    query = lesson_query(HARD, DESIGN, TRAIN.to_dict(), {"max_params": 100_000})
    missing = {p.name for p in PARAMS} - set(query) - {"dataset", "arch"}  # shapes and a design need neither
    assert not missing


def test_every_setting_round_trips_through_the_link():
    link = parse_link(lesson_query(HARD, DESIGN, TRAIN.to_dict(), {"max_params": 100_000}))
    assert not link.notices and link.board == {"max_params": 100_000}
    assert link.data_config() == HARD
    assert link.design() == DESIGN
    assert TrainConfig(**{**suggested_config(HARD).to_dict(), **link.train}) == TRAIN


def test_digits_and_a_preset_round_trip():
    data = DataConfig(dataset="digits", classes=("0", "1", "7"), size=16, seed=3)
    query = lesson_query(data, "lenet5", {"lr": 0.01, "epochs": 4})
    assert query == {"dataset": "digits", "classes": "0,1,7", "size": "16", "seed": "3", "arch": "lenet5",
                     "lr": "0.01", "epochs": "4"}  # fmt: skip
    link = parse_link(query)
    assert link.data_config() == data and link.arch == {"preset": "lenet5"} and link.design() is None
    assert link.train == {"lr": 0.01, "epochs": 4} and not link.notices


def test_the_defaults_make_an_empty_link():
    assert lesson_query(DataConfig(), "simple_cnn", train_defaults(DataConfig())) == {}
    assert parse_link({}).empty


@pytest.mark.parametrize("name, text, why", [
    ("lr", "0.2e2", "expected one of"), ("lr", "abc", "expected one of"),
    ("batch_size", "512", "expected one of"), ("epochs", "0", "out of range"),
    ("epochs", "101", "out of range"), ("epochs", "nan", "expected a number"), ("size", "8", "out of range"),
    ("dataset", "cifar", "expected one of"), ("classes", "circle", "at least 2"), ("classes", "circle,blob", "unknown ` blob `"),
    ("classes", "circle,circle", "at least 2"), ("hflip", "maybe", "true or false"), ("kernel", "4", "expected one of"),
    ("channels", "8,x", "whole numbers"), ("channels", "8,2000", "from 1 to 1024"), ("arch", "resnet", "expected one of"),
    ("noise", "-0.1", "out of range"), ("seed", "1e12", "out of range"), ("n_per_class", "1.5e9", "out of range"),
])  # fmt: skip
def test_a_bogus_or_out_of_range_value_is_dropped_with_a_notice(name, text, why):
    link = parse_link({name: text, "epochs" if name != "epochs" else "lr": "3" if name != "epochs" else "0.01"})
    param = BY_NAME[name]
    assert param.field not in getattr(link, param.group)
    assert len(link.notices) == 1 and f"{name}={quote(text)} was ignored" in link.notices[0] and why in link.notices[0]
    assert link.train  # the good parameter next to it still counts


def test_a_value_between_two_steps_snaps_with_a_notice():
    link = parse_link({"noise": "0.123", "crop_scale": "0.81", "rotation": "44"})
    assert link.data == {"noise": 0.12, "rotation": 45.0} and link.train == {"crop_scale": 0.8}
    assert sorted(link.notices) == ["The link's crop_scale=` 0.81 ` was rounded to 0.8.",
                                    "The link's noise=` 0.123 ` was rounded to 0.12.",
                                    "The link's rotation=` 44 ` was rounded to 45."]  # fmt: skip


@pytest.mark.parametrize("name, text, snapped", [
    ("lr", "0.0123", 0.01), ("lr", "0.02", 0.03), ("batch_size", "33", 32), ("batch_size", "100", 128),
    ("weight_decay", "0.0004", 1e-4), ("weight_decay", "0.0009", 1e-3),
])  # fmt: skip
def test_a_number_between_two_options_of_a_choice_snaps_to_the_nearest(name, text, snapped):
    """The learning rate and weight decay snap on their log scale, the batch size on its own; kernel sizes (odd
    only) and presets don't snap: see docs/teaching.md."""
    link = parse_link({name: text})
    assert link.train == {name: snapped}
    assert link.notices == [f"The link's {name}={quote(text)} was rounded to {format_value(snapped)}."]


def test_the_digits_limits_apply_when_the_link_names_digits():
    link = parse_link({"dataset": "digits", "n_per_class": "500", "classes": "circle,square", "size": "8"})
    assert link.data == {"dataset": "digits", "size": 8}
    assert len(link.notices) == 2


def test_values_that_clash_are_dropped_together_with_a_notice():
    link = parse_link({"n_per_class": "5000", "size": "128", "lr": "0.01"})  # 3.9 GB of images
    assert link.data == {} and link.train == {"lr": 0.01}
    assert link.notices[0].startswith("The link's n_per_class, size don't go together (this dataset would take")


def test_blocks_without_channels_take_the_pages_defaults_and_channels_give_the_block_count():
    assert parse_link({"blocks": "4"}).design().channels == (32, 64, 128, 256)
    assert parse_link({"channels": "4,8"}).design().num_blocks == 2
    link = parse_link({"blocks": "3", "channels": "4,8"})
    assert link.arch == {} and "don't go together" in link.notices[0]


def test_unknown_parameters_are_named_in_one_notice_and_repeated_ones_take_the_last_value():
    link = parse_link({"utm_source": "mail", "colour": "red", "lr": ["0.1", "0.001"]})
    assert link.train == {"lr": 0.001}
    assert link.notices == ["The link's ` colour `, ` utm_source ` are not a setting of this lab: ignored."]


def test_the_url_keeps_commas_readable():
    assert lesson_url("http://x/training", {"classes": "circle,ring"}, {"show": "lr,train"}) == \
        "http://x/training?classes=circle,ring&show=lr,train"  # fmt: skip


def test_hide_hides_exactly_what_it_names():
    view = parse_view({"hide": "lr,intro,sidebar"})
    assert view.hidden_keys == ("tr_lr", "intro") and view.hidden_layout == ("sidebar",) and not view.present
    css = view_css(view)
    assert ".st-key-tr_lr" in css and ".st-key-intro" in css and "stSidebar" in css
    assert ".st-key-tr_epochs" not in css and ".st-key-tr_train" not in css and "font-size" not in css


def test_show_hides_every_other_setting_and_nothing_else():
    view = parse_view({"show": "lr,epochs,train"})
    hidden = set(view.hidden_keys)
    assert "tr_lr" not in hidden and "tr_epochs" not in hidden and "tr_train" not in hidden
    assert {p.key for p in PARAMS} - {"tr_lr", "tr_epochs"} <= hidden
    assert "intro" not in hidden and not view.hidden_layout


def test_present_sets_large_type_and_bad_names_are_reported():
    view = parse_view({"present": "true", "hide": "lr,rocket"})
    assert view.present and "font-size" in view_css(view) and view.hidden_keys == ("tr_lr",)
    assert view.notices == ("The link's hide= names ` rocket `, which this lab doesn't have: ignored.",)
    assert parse_view({"present": "loud"}).notices


def test_every_domain_kind_rejects_junk():
    for domain in (Choice(("a", 1.0)), Number(0, 1), Flag(), Subset(("a", "b")), Counts(1, 9, 3)):
        with pytest.raises(ValueError):
            domain.parse("")


def test_a_show_that_names_nothing_known_is_ignored_as_its_notice_says():
    view = parse_view({"show": "nothing"})
    assert view.hidden_keys == () and view.notices == (
        "The link's show= names ` nothing `, which this lab doesn't have: show= is ignored as a whole.",)


def test_a_card_whose_widgets_are_all_hidden_is_hidden_too_and_no_other():
    from ui.train_widgets import CARDS, FIELDS

    assert sorted(f for fields in CARDS.values() for f in fields) == sorted(FIELDS)  # every widget in one card
    hidden = set(parse_view({"show": "lr,epochs,train"}).hidden_keys)
    assert {"tr_card_schedule", "tr_card_augment", "tr_card_precision"} <= hidden
    assert not {"tr_card_optimizer", "tr_card_loop"} & hidden
    assert "tr_card_optimizer" in parse_view({"hide": "optimizer,lr,momentum,weight_decay"}).hidden_keys
