"""`python -m cnn_core data`: files it writes and how it refuses bad arguments."""

import numpy as np
import pytest

from tests.helpers import run_cli


def test_data_writes_the_default_shapes_as_npz(tmp_path):
    out = tmp_path / "shapes.npz"
    result = run_cli("data", "--dataset", "shapes", "--out", out)
    assert result.returncode == 0, result.stderr
    with np.load(out) as f:
        assert f["images"].shape == (1000, 3, 32, 32) and f["images"].dtype == np.float32
        assert np.bincount(f["labels"]).tolist() == [250] * 4
        assert f["classes"].tolist() == ["circle", "square", "diagonal", "ring"]
    assert "1000 images" in result.stdout


def test_data_options_reach_the_generator(tmp_path):
    out = tmp_path / "hard.npz"
    result = run_cli("data", "--n-per-class", "5", "--size", "48", "--noise", "0", "--seed", "3",
                     "--classes", "triangle,cross,hstripes", "--rotation", "30", "--color-mode", "random",
                     "--clutter", "2", "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with np.load(out) as f:
        assert f["images"].shape == (15, 3, 48, 48)
        assert f["classes"].tolist() == ["triangle", "cross", "hstripes"]


def test_digits_can_be_upscaled(tmp_path):
    out = tmp_path / "digits.npz"
    assert run_cli("data", "--dataset", "digits", "--size", "16", "--out", out).returncode == 0
    with np.load(out) as f:
        assert f["images"].shape == (1797, 1, 16, 16)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["data", "--noise", "-1"], "noise"),
        (["data", "--n-per-class", "0"], "at least 1"),
        (["data", "--size", "8"], "out of range"),
        (["data", "--classes", "circle,blob"], "unknown shapes class 'blob'"),
        (["data", "--dataset", "cifar"], "invalid choice"),
        (["data", "--n-per-class", "many"], "invalid int value"),
        (["data"], "--out"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_on_stderr(tmp_path, args, fragment):
    if args[0] == "data" and len(args) > 1:
        args = [*args, "--out", str(tmp_path / "x.npz")]
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_an_unwritable_output_is_reported_not_raised(tmp_path):
    result = run_cli("data", "--out", tmp_path / "missing-dir" / "x.npz")
    assert result.returncode == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- your own images (--dataset folder)


@pytest.fixture
def faces(tmp_path, monkeypatch):
    from cnn_core.data.examples import example_zip

    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path / "cache"))  # the CLI's subprocess inherits it
    path = tmp_path / "faces.zip"
    path.write_bytes(example_zip())
    return path


def test_data_reads_a_zip_of_class_folders(faces, tmp_path):
    out = tmp_path / "faces.npz"
    result = run_cli("data", "--dataset", "folder", "--path", faces, "--size", "20", "--image-mode", "grey", "--out", out)
    assert result.returncode == 0, result.stderr
    with np.load(out) as f:
        assert f["images"].shape == (48, 1, 20, 20) and f["classes"].tolist() == ["happy", "sad"]
        assert '"dataset":"folder"' in str(f["config"])
    assert "README.txt" in result.stderr  # the skipped file is reported


def test_data_reads_a_folder_and_gives_the_zip_s_dataset(faces, tmp_path):
    import zipfile

    with zipfile.ZipFile(faces) as zf:
        zf.extractall(tmp_path / "unpacked")
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path, out in zip((faces, tmp_path / "unpacked" / "faces"), outs):
        assert run_cli("data", "--dataset", "folder", "--path", path, "--out", out).returncode == 0
    with np.load(outs[0]) as a, np.load(outs[1]) as b:
        assert np.array_equal(a["images"], b["images"]) and str(a["config"]) == str(b["config"])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--dataset", "folder"], "needs --path"),
        (["--path", "x.zip"], "--path goes with --dataset folder"),
        (["--dataset", "folder", "--path", "/no/such/place"], "neither a folder nor a zip"),
        (["--image-mode", "grey"], "your own images"),
    ],
)
def test_bad_folder_arguments_exit_2_with_one_line(tmp_path, args, fragment):
    result = run_cli("data", *args, "--out", tmp_path / "x.npz")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_train_on_a_folder_then_evaluating_without_the_images_says_which_ones_are_needed(faces, tmp_path):
    import shutil

    assert run_cli("train", "--dataset", "folder", "--path", faces, "--size", "16", "--epochs", "1",
                   "--arch", "digits_small", "--out", tmp_path / "faces.pt").returncode == 0  # fmt: skip
    shutil.rmtree(tmp_path / "cache" / "images")  # the store forgot them
    result = run_cli("evaluate", "--checkpoint", tmp_path / "faces.pt")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "your own images (2 classes: happy, sad" in result.stderr
    assert run_cli("data", "--dataset", "folder", "--path", faces, "--out", tmp_path / "x.npz").returncode == 0
    assert run_cli("evaluate", "--checkpoint", tmp_path / "faces.pt").returncode == 0  # given back: it works again
