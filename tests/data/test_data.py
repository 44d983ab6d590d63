"""The dataset generator against hand-worked expectations and independent references."""

import numpy as np
import pytest

from cnn_core.data.config import SHAPE_CLASSES, DataConfig
from cnn_core.data.dataset import make_dataset, stratified_split
from cnn_core.data.digits import resize_images, resize_matrix

S = 32
C = S // 2
yy, xx = np.mgrid[0:S, 0:S]
# The classic task's shapes, written out from their definitions (not from the generator's code).
CLASSIC = {
    "circle": ((xx - C) ** 2 + (yy - C) ** 2 <= (S // 4) ** 2, (1.0, 0.0, 0.0)),
    "square": ((abs(xx - C + 0.5) < S // 4) & (abs(yy - C + 0.5) < S // 4), (0.0, 1.0, 0.0)),
    "diagonal": (abs(xx - yy) <= 2, (0.0, 0.0, 1.0)),
    "ring": (((xx - C) ** 2 + (yy - C) ** 2 >= (S // 5) ** 2) & ((xx - C) ** 2 + (yy - C) ** 2 <= (S // 3) ** 2),
             (1.0, 0.5, 0.0)),
}  # fmt: skip


@pytest.fixture(scope="module")
def classic():
    return make_dataset(DataConfig())


def test_default_config_is_the_classic_four_class_task(classic):
    assert classic.images.shape == (1000, 3, 32, 32)
    assert classic.images.dtype == np.float32 and classic.labels.dtype == np.int64
    assert classic.classes == ("circle", "square", "diagonal", "ring")
    assert np.bincount(classic.labels).tolist() == [250] * 4
    assert classic.images.min() >= 0.0 and classic.images.max() <= 1.0
    assert classic.config.noise == 0.1 and classic.config.seed == 42


@pytest.mark.parametrize("name", list(CLASSIC))
def test_each_classic_shape_has_its_colour_inside_and_noise_elsewhere(classic, name):
    mask, colour = CLASSIC[name]
    images = classic.images[classic.labels == classic.classes.index(name)]
    # Clipped N(0, 0.1) noise on a 0 background averages 0.04; on a 1 it averages 0.96.
    noise_level = 0.1 * 0.3989
    for channel, value in enumerate(colour):
        inside = images[:, channel][:, mask].mean()
        if value == 1.0:
            assert inside > 0.85
        elif value == 0.0:
            assert inside < noise_level + 0.01
        else:
            assert abs(inside - value) < 0.02
        assert images[:, channel][:, ~mask].mean() < noise_level + 0.01


def test_noise_has_the_requested_spread():
    clean = make_dataset(DataConfig(noise=0.0, n_per_class=50))
    noisy = make_dataset(DataConfig(noise=0.05, n_per_class=50))
    mid = (clean.images > 0.3) & (clean.images < 0.7)  # the ring's 0.5 green: far from the clip bounds
    assert abs((noisy.images - clean.images)[mid].std() - 0.05) < 0.003
    assert set(np.unique(clean.images)) <= {0.0, 0.5, 1.0}


def test_same_seed_gives_the_same_images_and_split():
    a, b = make_dataset(DataConfig(seed=7, rotation=30)), make_dataset(DataConfig(seed=7, rotation=30))
    assert np.array_equal(a.images, b.images)
    assert all(np.array_equal(a.splits[k], b.splits[k]) for k in a.splits)
    c = make_dataset(DataConfig(seed=8, rotation=30))
    assert not np.array_equal(a.images, c.images)


def test_split_is_stratified_disjoint_and_complete(classic):
    parts = [classic.splits[k] for k in ("train", "val", "test")]
    joined = np.concatenate(parts)
    assert len(joined) == len(set(joined.tolist())) == len(classic.labels)
    held_out = round(250 * 0.15)  # 38 of each class for validation, 38 for test
    for part, expected in zip(parts, (250 - 2 * held_out, held_out, held_out)):
        assert np.bincount(classic.labels[part], minlength=4).tolist() == [expected] * 4


def test_split_fractions_follow_the_config():
    labels = np.repeat(np.arange(3), 100)
    split = stratified_split(labels, 0.2, 0.0, seed=1)
    assert len(split["val"]) == 60 and len(split["test"]) == 0 and len(split["train"]) == 240


def test_every_extra_class_draws_a_visible_shape():
    ds = make_dataset(DataConfig(classes=SHAPE_CLASSES, noise=0.0, n_per_class=3))
    for k, name in enumerate(SHAPE_CLASSES):
        lit = ds.images[ds.labels == k].max(axis=1) > 0  # pixels the shape covers
        assert 0.02 < lit.mean() < 0.7, name
    # Stripes differ in direction: horizontal ones are constant along each row.
    h = ds.images[ds.labels == SHAPE_CLASSES.index("hstripes")][0, 1]
    assert np.all(h == h[:, :1])


def test_difficulty_knobs_change_the_images():
    base = make_dataset(DataConfig(noise=0.0, n_per_class=20))
    for knob in (dict(position_jitter=0.2), dict(scale_jitter=0.3), dict(rotation=45), dict(clutter=3)):
        hard = make_dataset(DataConfig(noise=0.0, n_per_class=20, **knob))
        assert not np.array_equal(base.images, hard.images), knob
        # Not every square is the same any more (a circle would not change under rotation).
        assert np.ptp(hard.images[hard.labels == 1], axis=0).max() > 0, knob


def test_random_colour_mode_hides_the_class_in_the_colour():
    ds = make_dataset(DataConfig(color_mode="random", noise=0.0, n_per_class=400))
    per_class_colour = [ds.images[ds.labels == k].sum(axis=(2, 3)).mean(axis=0) for k in range(4)]
    for colour in per_class_colour:  # each class mixes all hues: no channel dominates
        assert colour.max() / colour.sum() < 0.45


@pytest.mark.parametrize("size", [16, 57, 128])
def test_any_image_size_from_16_to_128(size):
    ds = make_dataset(DataConfig(size=size, n_per_class=2))
    assert ds.images.shape == (8, 3, size, size)


def test_digits_are_scikit_learns_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    ds = make_dataset(DataConfig(dataset="digits"))
    ref = load_digits()
    assert ds.images.shape == (1797, 1, 8, 8) and ds.classes == tuple("0123456789")
    assert np.allclose(np.sort(ds.images.reshape(1797, -1), axis=0), np.sort(ref.data / 16.0, axis=0))
    assert np.bincount(ds.labels).tolist() == np.bincount(ref.target).tolist()


def test_digits_subset_of_classes_is_relabelled_in_order():
    ds = make_dataset(DataConfig(dataset="digits", classes=("3", "8"), n_per_class=50))
    assert ds.classes == ("3", "8") and np.bincount(ds.labels).tolist() == [50, 50]


def test_bilinear_upscaling_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    for size in (8, 13, 32, 128):
        ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear",
                                              align_corners=False).numpy()
        assert np.abs(resize_images(x, size) - ref).max() < 1e-5
    assert np.allclose(resize_matrix(8, 20).sum(axis=1), 1.0)


def test_config_round_trips_through_json_with_a_stable_key():
    cfg = DataConfig(classes=("ring", "cross"), rotation=15.0, seed=3)
    back = DataConfig.from_json(cfg.to_json())
    assert back == cfg and back.key() == cfg.key() and isinstance(back.classes, tuple)
    assert DataConfig().key() == DataConfig(classes=("circle", "square", "diagonal", "ring"), size=32).key()
    assert DataConfig().key() != DataConfig(seed=1).key()


def test_npz_export_holds_images_labels_and_classes(classic, tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(classic.to_npz())
    with np.load(path) as f:
        assert f["images"].shape == (1000, 3, 32, 32) and f["images"].dtype == np.float32
        assert f["labels"].tolist() == classic.labels.tolist()
        assert tuple(f["classes"].tolist()) == classic.classes
        assert DataConfig.from_json(str(f["config"])) == classic.config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_per_class=0), "at least 1"),
        (dict(size=8), "out of range"),
        (dict(size=200), "out of range"),
        (dict(noise=-0.1), "noise"),
        (dict(noise=float("nan")), "noise"),
        (dict(classes=("circle", "hexagon")), "unknown shapes class 'hexagon'"),
        (dict(classes=("circle",)), "at least two classes"),
        (dict(classes=("ring", "ring")), "only once"),
        (dict(dataset="cifar"), "unknown dataset 'cifar'"),
        (dict(dataset="digits", classes=("circle", "ring")), "unknown digits class"),
        (dict(color_mode="rainbow"), "unknown color_mode"),
        (dict(rotation=270), "rotation"),
        (dict(clutter=-1), "clutter"),
        (dict(val_fraction=0.6), "val fraction"),
        (dict(n_per_class=5000, size=128), "MB"),
    ],
)
def test_bad_settings_raise_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**kwargs)


def test_too_few_images_to_split_is_explained():
    with pytest.raises(ValueError, match="too few"):
        make_dataset(DataConfig(n_per_class=2, val_fraction=0.45, test_fraction=0.45))


def test_unknown_json_field_is_rejected():
    with pytest.raises(ValueError, match="unknown DataConfig field"):
        DataConfig.from_dict({"dataset": "shapes", "colour": "red"})


def _orientation(mask: np.ndarray) -> float:
    """The direction of a blob's long axis in degrees (0: along x, 90: along y with y down), from its moments."""
    yy, xx = np.nonzero(mask)
    x, y = xx - xx.mean(), yy - yy.mean()
    return float(np.degrees(0.5 * np.arctan2(2 * (x * y).mean(), (x * x).mean() - (y * y).mean()))) % 180


def test_rotation_never_turns_a_diagonal_into_another_direction():
    ds = make_dataset(DataConfig(classes=("diagonal", "circle"), rotation=90.0, noise=0.0, n_per_class=200, size=64))
    angles = np.array([_orientation(img[2] > 0.5) for img in ds.images[ds.labels == 0]])  # blue: the diagonal
    assert np.abs(angles - 45).max() <= 30 + 3  # capped at 30° either way (3° for pixels)
    assert np.abs(angles - 45).max() > 20  # and still turned


def test_stripes_keep_their_direction_under_rotation():
    ds = make_dataset(DataConfig(classes=("hstripes", "vstripes"), rotation=180.0, noise=0.0, n_per_class=50, size=64))
    h, v = (np.array([np.abs(np.diff(img.mean(axis=0), axis=a)).sum() for img in ds.images[ds.labels == k]])
            for k, a in ((0, 0), (1, 0)))  # change from row to row: large for horizontal stripes
    assert (h > v.max()).all()
