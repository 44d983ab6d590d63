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
