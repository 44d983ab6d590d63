"""The class board through AppTest: runs registered by several processes under several names, grouped by lesson;
students cannot clear it, the teacher can with the passphrase."""

import multiprocessing
import random
import shutil

import pytest

from cnn_core.data.config import DataConfig
from cnn_core.runs.registry import RunRegistry
from cnn_core.settings import ENV_VAR
from cnn_core.study.board import PASSPHRASE_VAR, lesson_of
from tests.run_helpers import DATA, make_run, put_many
from ui.jobs import shared_cache

BOARD = "app_pages/board.py"


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A registry folder filled by two writer processes (writer-0, writer-100) and this one (a run of another lesson)."""
    folder = tmp_path_factory.mktemp("board")
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=put_many, args=(str(folder), first, 2)) for first in (0, 100)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    other = make_run(7)
    other.data_config = DataConfig(dataset="digits", classes=("3", "4"), n_per_class=20)
    RunRegistry(folder).put(other, who="Quiet Owl 12")
    return folder


@pytest.fixture
def registry(filled, tmp_path, monkeypatch):
    """A copy of the filled registry for this test alone (the teacher's test clears it)."""
    shared_cache.clear()  # the server's cache object reads $CNN_LAB_CACHE_DIR when it is made
    shutil.copytree(filled, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    monkeypatch.delenv(PASSPHRASE_VAR, raising=False)
    yield RunRegistry(tmp_path)
    shared_cache.clear()


def board(app, **state):
    at = app()
    for key, value in state.items():
        at.session_state[key] = value
    return at.switch_page(BOARD).run()


def names_on_board(at) -> set[str]:
    return set(at.dataframe[0].value["name"])


def test_the_board_lists_runs_from_several_processes_and_names_grouped_by_lesson(app, registry):
    at = board(app, data_config=DATA)
    assert not at.exception
    assert at.selectbox(key="board_lesson").value == DataConfig.from_dict(DATA.to_dict()).key()
    assert len(at.selectbox(key="board_lesson").options) == 2
    assert names_on_board(at) == {"writer-0", "writer-100"}
    frame = at.dataframe[0].value
    assert list(frame["rank"]) == [1, 2, 3, 4] and frame["test accuracy"].between(0, 1).all()
    at.selectbox(key="board_lesson").set_value(lesson_of(registry.listing()[0])).run()
    assert names_on_board(at) == {"Quiet Owl 12"}


def test_a_student_gets_an_anonymous_name_and_may_change_it(app, registry):
    at = board(app)
    name = at.text_input(key="board_who").value
    assert len(name.split()) == 3 and at.session_state["board_name"] == name
    at.text_input(key="board_who").set_value("  Ada  ").run()
    assert at.session_state["board_name"] == "Ada"
    at.text_input(key="board_who").set_value("   ").run()
    assert at.session_state["board_name"] == "Ada" and "choose a name" in at.sidebar.error[0].value


def test_without_a_passphrase_on_the_server_nobody_can_clear(app, registry):
    at = board(app, data_config=DATA)
    assert not at.get("form") and "switched off" in " ".join(c.value for c in at.caption)
    assert len(registry.listing()) == 5


def test_a_student_with_the_wrong_passphrase_cannot_clear_and_the_teacher_can(app, registry, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_VAR, "correct horse")
    at = board(app, data_config=DATA)
    for guess in ("", "correct", "correct horse ", str(random.random())):
        at.text_input(key="board_passphrase").set_value(guess)
        _submit(at)
        assert "not the teacher's passphrase" in at.error[0].value
        assert len(registry.listing()) == 5
    at.text_input(key="board_passphrase").set_value("correct horse")
    _submit(at)
    assert len(registry.listing()) == 5 and "Remove the 4 runs of the lesson" in at.warning[0].value  # asked first
    at.button(key="board_clear_no").click().run()
    assert len(registry.listing()) == 5 and not at.warning and at.text_input(key="board_passphrase").value == ""
    at.text_input(key="board_passphrase").set_value("correct horse")
    _submit(at)
    at.button(key="board_clear_yes").click().run()
    assert "Cleared 4 runs" in at.success[0].value and "passphrase was forgotten" in at.success[0].value
    assert at.text_input(key="board_passphrase").value == ""  # the next lesson is not one click from going too
    left = registry.listing()
    assert [e["who"] for e in left] == ["Quiet Owl 12"]  # the other lesson stays


def _submit(at) -> None:
    next(b for b in at.button if b.label.startswith("Clear this lesson")).click().run()


def test_a_numeric_teacher_passphrase_in_secrets_clears_as_text(app, registry):
    at = app()
    at.secrets[PASSPHRASE_VAR] = 4321  # secrets.toml: CNN_LAB_TEACHER_PASSPHRASE = 4321
    at.session_state["data_config"] = DATA
    at.switch_page(BOARD).run()
    at.text_input(key="board_passphrase").set_value("4321")
    _submit(at)
    at.button(key="board_clear_yes").click().run()
    assert not at.exception and "Cleared 4 runs" in at.success[0].value


@pytest.fixture
def own_images_run(tmp_path, monkeypatch):
    """A registry holding one run trained on a learner's own images (in the server's image store), registered
    without a stored score as runs were before scores were stored; and those images."""
    from cnn_core.data import image_store
    from cnn_core.data.dataset import make_dataset
    from cnn_core.data.folders import from_files
    from cnn_core.data.image_set import folder_config
    from cnn_core.nets.layers import layer
    from cnn_core.nets.spec import ModelSpec
    from cnn_core.training.config import TrainConfig
    from cnn_core.training.engine import fit
    from tests.image_files import BLUE, RED, picture

    shared_cache.clear()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    monkeypatch.delenv(PASSPHRASE_VAR, raising=False)
    images = from_files({c: [(str(i), picture(k, seed=i)) for i in range(12)] for c, k in (("reds", RED), ("blues", BLUE))})
    image_store.put(images)
    ds = make_dataset(folder_config(images, size=16, test_fraction=0.25))
    spec = ModelSpec(ds.input_shape, 2, (layer("flatten"), layer("linear", out_features=2)))
    run = fit(spec, ds, TrainConfig(epochs=1, batch_size=8), device="cpu")
    run.summary.pop("test_acc", None), run.summary.pop("test_split", None)
    run.summary["status"] = "completed"  # one epoch on 24 images may be called unstable: the board scores completed
    RunRegistry(tmp_path).put(run, who="Owner Otter 11")
    yield run, images
    shared_cache.clear()


def test_a_run_one_session_cannot_score_is_never_hidden_from_the_others(app, own_images_run):
    run, images = own_images_run
    stranger = board(app)  # lacks the owner's images: can't measure the score, and says nothing for others
    assert not stranger.exception
    owner = board(app, my_image_digests={images.digest: images})
    assert not owner.exception and names_on_board(owner) == {"Owner Otter 11"}
    [score] = owner.dataframe[0].value["test accuracy"]
    assert 0 <= score <= 1
    later = board(app)  # another stranger: the score the owner's session measured is in the registry now
    assert names_on_board(later) == {"Owner Otter 11"} and list(later.dataframe[0].value["test accuracy"]) == [score]


@pytest.mark.parametrize("page", ["app_pages/training.py", "app_pages/architecture.py"])
def test_settings_of_a_run_on_another_learner_s_images_never_break_a_page(app, own_images_run, page):
    run, _ = own_images_run
    at = app()
    at.session_state["data_config"] = run.data_config  # what loading that run's settings used to leave
    at.switch_page(page).run()
    assert not at.exception
    assert any("can't be used here" in w.value for w in at.warning)


def test_runs_belong_to_the_owner_id_so_a_rename_carries_them_and_they_say_you(app, registry):
    from cnn_core.study.owners import OwnerNames, new_owner

    owner = new_owner()
    mine = make_run(3)
    mine.data_config = DATA
    registry.put(mine, who=owner)
    OwnerNames(registry.folder).set(owner, "Old Name")
    at = board(app, data_config=DATA, board_owner=owner)
    assert at.text_input(key="board_who").value == "Old Name"  # the name this owner id has on the server
    assert "Old Name (you)" in names_on_board(at)
    at.text_input(key="board_who").set_value("New Name").run()
    assert "New Name (you)" in names_on_board(at) and "Old Name (you)" not in names_on_board(at)
    assert OwnerNames(registry.folder).names() == {owner: "New Name"}
    assert "1 of them yours" in " ".join(c.value for c in at.caption)


def test_the_boards_budget_is_in_its_link_and_a_link_sets_it(app, registry):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = board(app, data_config=DATA)
    at.number_input(key="board_budget").set_value(100_000).run()
    assert at.query_params.get("budget") in ("100000", ["100000"])
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["budget"] = "250000"
    at.run()
    at.switch_page(BOARD).run()
    assert at.number_input(key="board_budget").value == 250_000 and not at.warning


def test_load_its_settings_brings_the_runs_network_to_training_and_architecture_and_into_the_url(app, registry):
    import torch

    from cnn_core.nets.build import build_model
    from cnn_core.nets.presets import network
    from cnn_core.training.config import TrainConfig
    from cnn_core.training.run import run_key

    run = make_run(9)
    run.spec = network("simple_cnn_stride2", (1, 8, 8), 3)  # not the digits' default (digits_small)
    run.state_dict = {k: torch.zeros_like(v) for k, v in build_model(run.spec).state_dict().items()}
    run.key = run_key(DATA, run.spec, TrainConfig.from_dict(run.train_config))
    registry.put(run, who="Stella Stride")
    at = board(app, data_config=DATA)
    row = list(at.dataframe[0].value["name"]).index("Stella Stride")
    at.session_state["board_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    at.button(key="board_load").click().run()
    assert not at.exception
    assert at.query_params.get("arch") in ("simple_cnn_stride2", ["simple_cnn_stride2"])
    assert at.session_state["model_spec"] == run.spec  # what Train trains
    assert any(f"{len(run.spec.layers)} layers" in c.value for c in at.caption if c.value.startswith("Model:"))
    at.switch_page("app_pages/architecture.py").run()
    assert not at.exception and at.selectbox(key="arch_preset").value == "simple_cnn_stride2"
    at.switch_page("app_pages/training.py").run()
    assert at.query_params.get("arch") in ("simple_cnn_stride2", ["simple_cnn_stride2"])
    assert at.session_state["model_spec"] == run.spec
