"""Bad input to every subcommand exits 2 with one line on stderr, never a traceback or a hang: deeply nested JSON,
numbers too large for anything, pipes and devices where a file belongs, networks too large for the machine; and any
argument vector, drawn from the real subcommands and options plus junk, exits 0 or 2 (Hypothesis)."""

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cnn_core.cli import experiments
from cnn_core.cli.main import build_parser, main
from cnn_core.nets.layers import layer
from cnn_core.nets.spec import ModelSpec
from tests.conftest import ROOT

DEEP = "[" * 100_000 + "]" * 100_000
GIANT = ModelSpec((3, 32, 32), 4, (layer("flatten"), layer("linear", out_features=10**7), layer("linear", out_features=4)))


@pytest.fixture
def files(tmp_path):
    """Hostile files by name: a deeply nested JSON, a 5,000-digit number, NaN in a spec, a giant network."""
    out = {}
    for name, text in {"deep.json": DEEP, "digits.json": '{"num_classes": ' + "9" * 5000 + ', "layers": []}',
                       "nan.json": '{"layers": [{"type": "leakyrelu", "negative_slope": NaN}]}',
                       "giant.json": GIANT.to_json(), "binary.json": "\udcff"}.items():  # fmt: skip
        out[name] = tmp_path / name
        out[name].write_bytes(text.encode("utf-8", "surrogateescape"))
    return out


def one_line_error(argv, capsys) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["summary", "--arch", "deep.json"], "nested too deeply"),
    (["train", "--config", "deep.json"], "nests its JSON too deeply"),
    (["data", "--config", "deep.json", "--out", "x.npz"], "nests its JSON too deeply"),
    (["summary", "--arch", "digits.json"], "can't be read"),
    (["summary", "--arch", "nan.json"], "finite number"),
    (["summary", "--arch", "binary.json"], "not text"),
    (["train", "--arch", "giant.json", "--epochs", "1"], "too large for this server"),
    (["train", "--batch-size", str(10**30), "--epochs", "1"], "too large for this server"),
    (["train", "--lr", "1e999"], "learning rate"),
    (["train", "--seed", str(10**30)], "seed must be"),
    (["train", "--threads", str(10**30)], "--threads must be from 1"),
    (["summary", "--arch", "simple_cnn", "--classes", "-5"], "--classes must be at least 2"),
    (["sweep", "--param", f"lr={10**400}", "--epochs", "1"], ""),
    (["sweep", "--param", f"batch_size=8,{10**7}", "--epochs", "1", "--task", "classic"], "trial 2: this network is too large"),
    (["evaluate", "--checkpoint", "missing.pt"], "cannot read"),
    (["evaluate", "--checkpoint", "."], "not a regular file"),
    (["data", "--out", ".", "--n-per-class", "3"], "cannot write"),
])  # fmt: skip
def test_bad_input_exits_2_with_one_line(argv, message, files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert message in one_line_error(argv, capsys)


def test_a_checkpoint_describing_a_giant_network_exits_2_before_building_it(tmp_path, capsys, monkeypatch):
    import dataclasses

    from cnn_core.data.config import DataConfig
    from cnn_core.runs import checkpoint
    from cnn_core.training.run import TrainedRun

    monkeypatch.setattr(checkpoint, "build_model", lambda spec: pytest.fail("built the network"))
    run = TrainedRun(GIANT, DataConfig(), {}, {}, [], {}, key="x")
    path = tmp_path / "giant.pt"
    path.write_bytes(checkpoint.checkpoint_bytes(dataclasses.replace(run)))
    assert "too large for this server" in one_line_error(["evaluate", "--checkpoint", path], capsys)


# A pipe where a file belongs: reading it waits for a writer that never comes. In a process of its own, so that the
# old code's hang fails the test (timeout) instead of stopping the suite.
PIPES = textwrap.dedent("""
    import contextlib, io, json, os, sys
    from pathlib import Path
    from cnn_core.cli.main import main
    from tests.image_files import layout, two_classes

    root = Path(sys.argv[1])
    os.mkfifo(root / "pipe")
    for rel, data in layout(two_classes(3)).items():
        (root / "mine" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "mine" / rel).write_bytes(data)
    os.mkfifo(root / "mine" / "reds" / "pipe.png")
    out = []
    for argv in (["data", "--config", "pipe", "--out", "x.npz"], ["train", "--config", "pipe"],
                 ["evaluate", "--checkpoint", "pipe"], ["summary", "--arch", "pipe"],
                 ["data", "--out", "pipe", "--n-per-class", "3"],
                 ["data", "--dataset", "folder", "--path", "pipe", "--out", "x.npz"],
                 ["data", "--dataset", "folder", "--path", "mine", "--out", "mine.npz"]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        out.append([argv, code, err.getvalue()])
    print(json.dumps(out))
""")


def test_a_pipe_as_an_argument_or_inside_a_path_folder_never_hangs(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path / "cache"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PIPES, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    *refused, (_, folder_code, folder_err) = json.loads(done.stdout)
    for argv, code, err in refused:
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert folder_code == 0 and "not regular files (pipes, devices or sockets)): reds/pipe.png" in folder_err


# ---------------------------------------------------------------- any argument vector


def _options():
    """Each subcommand's options, read from the real parser: name → [(option string, its choices or None,
    whether it is required, whether it takes a value)]."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {name: [(a.option_strings[-1] if a.option_strings[-1].startswith("--") else a.option_strings[0],
                    a.choices, a.required, a.nargs != 0) for a in p._actions if a.option_strings and a.dest != "help"]
            for name, p in sub.choices.items()}  # fmt: skip


OPTIONS = _options()
FILES = ["deep.json", "digits.json", "nan.json", "giant.json", "binary.json", "missing.pt", ".", "/dev/null"]
PATHS = {"--arch", "--config", "--checkpoint", "--path", "--out"}
NUMBERS = st.sampled_from(["0", "1", "-1", "2", "3,32,32", "1e999", "nan", "inf", "-inf", str(10**40), "0.5"])
JUNK = st.one_of(NUMBERS, st.sampled_from(["", "simple_cnn", "shapes", "folder", "lr=0.1,1", "batch_size=8", "-", "ä"]),
                 st.text(max_size=12))  # fmt: skip


@st.composite
def argvs(draw):
    """A subcommand with its required options, then a few of its options, each with a likely value; one vector in
    four also has junk in place of options and values."""
    command = draw(st.sampled_from([*OPTIONS, "bogus"]))
    options = OPTIONS.get(command, [("--x", None, False, True)])
    chosen = [o for o in options if o[2]] + draw(st.lists(st.sampled_from(options), max_size=4))
    junk = draw(st.integers(0, 3)) == 0
    argv = [command]
    for option, choices, _, takes_value in chosen:
        argv.append(draw(st.text(max_size=6)) if junk and draw(st.booleans()) else option)
        if takes_value:
            likely = st.sampled_from(FILES) if option in PATHS else st.sampled_from(list(choices)) if choices else NUMBERS
            argv.append(draw(JUNK if junk and draw(st.booleans()) else likely))
    return argv


class Reached(Exception):
    """Raised where the work would start (training, building a dataset): the arguments were all accepted."""


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)  # fixtures: for all
@given(argv=argvs())
@example(argv=["summary", "--arch", "deep.json"])  # the vectors that gave tracebacks before, always among them
@example(argv=["train", "--config", "deep.json"])
@example(argv=["data", "--config", "deep.json", "--out", "x.npz"])
@example(argv=["train", "--arch", "giant.json"])
@example(argv=["train", "--seed", str(10**30), "--epochs", "1"])
def test_any_argument_vector_exits_0_or_2_never_a_traceback(argv, files, monkeypatch_session):
    os.chdir(files["deep.json"].parent)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except Reached:
            code = 0
        except SystemExit as exc:  # argparse's --help
            code = exc.code
    assert code in (0, 2), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()


@pytest.fixture
def monkeypatch_session(monkeypatch, tmp_path):
    """The work itself stops where it would begin: datasets, training and experiments raise Reached."""
    import cnn_core.data.dataset as dataset

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(dataset, "make_dataset", reached)
    monkeypatch.setattr(experiments, "_run", reached)
    monkeypatch.setenv("CNN_LAB_CACHE_DIR", str(tmp_path / "cache"))
    cwd = os.getcwd()
    yield
    os.chdir(cwd)
