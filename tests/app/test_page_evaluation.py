import base64
import dataclasses
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score, classification_report
from sklearn.metrics import confusion_matrix as sk_confusion
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.inspection.evaluate import evaluate
from cnn_core.nets.build import build_model
from cnn_core.nets.presets import network
from cnn_core.runs.checkpoint import checkpoint_bytes
from cnn_core.training.run import TrainedRun
from tests.conftest import ROOT
from tests.eval_helpers import trained_run
from tests.helpers import open_page
from tests.html_tables import page_tables

PAGE = str(ROOT / "app_pages" / "evaluation.py")


def _page(**state) -> AppTest:
    return open_page("app_pages/evaluation.py", 120, **state)

TABS = ("Scores", "Mistakes", "Filters", "Feature maps", "Grad-CAM", "Your image", "Embedding", "Training")


def _tab(at: AppTest, label: str) -> AppTest:
    """Open one of the page's tabs (only the open one is computed and sent)."""
    at.session_state["ev_tab"] = label
    return at.run()


def _charts(at: AppTest) -> dict[str, dict]:
    """Each Plotly chart's figure, by widget key."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _array(value) -> np.ndarray:
    """A figure's data array: Plotly sends NumPy arrays as base64 ("bdata") with a dtype and shape."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")])
    return np.array(value, dtype=float)


def _texts(elements) -> str:
    return " | ".join(e.value for e in elements)


@pytest.fixture(scope="module")
def run() -> TrainedRun:
    return trained_run()


@pytest.fixture(scope="module")
def reference(run):
    """The run's predictions computed without the page."""
    return evaluate(run.build(), make_dataset(run.data_config))


@pytest.fixture(scope="module")
def shown(run) -> AppTest:
    at = _page(active_run=run)
    assert not at.exception
    return at


def _png(side: int = 20) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_without_a_model_the_page_asks_for_one_and_points_to_training():
    at = _page()
    assert not at.exception and not at.error
    assert "No model of yours to evaluate yet" in _texts(at.info)
    assert "Training" in _texts(at.caption)  # the link's stand-in while the router lacks the Training page


def test_through_a_router_with_a_training_page_the_page_links_to_it(tmp_path):
    (tmp_path / "app_pages").mkdir()
    shutil.copy(PAGE, tmp_path / "app_pages" / "evaluation.py")
    (tmp_path / "app_pages" / "training.py").write_text("import streamlit as st\nst.title('Training')\n")
    (tmp_path / "app.py").write_text("import streamlit as st\nst.navigation([st.Page('app_pages/evaluation.py'), "
                                     "st.Page('app_pages/training.py')]).run()\n")  # fmt: skip
    at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert [link.value for link in at.get("page_link")] == ["Go to the Training page"]


def test_the_sidebar_names_the_torch_version_and_device(shown):
    import torch

    assert f"PyTorch {torch.__version__}" in _texts(shown.sidebar.caption)


def test_the_accuracy_comes_with_its_wilson_interval_from_scipy(shown, reference):
    from scipy.stats import binomtest

    right, n = int((reference.preds == reference.labels).sum()), len(reference.labels)
    ci = binomtest(right, n).proportion_ci(method="wilson")
    assert f"{right} of {n} right" in _texts(shown.caption)
    assert f"between {ci.low:.1%} and {ci.high:.1%} (95 % Wilson interval)" in _texts(shown.caption)


def test_the_scores_equal_scikit_learns_on_the_models_test_predictions(shown, reference):
    _tab(shown, "Scores")
    metrics = {m.label: m.value for m in shown.metric}
    assert metrics["Accuracy on test"] == f"{accuracy_score(reference.labels, reference.preds):.1%}"
    assert metrics["Images evaluated"] == str(len(reference.labels))
    assert metrics["Mistakes"] == str(int((reference.preds != reference.labels).sum()))
    table = page_tables(shown)[1].text  # static tables (the confusion matrix first): they grow with presenting mode's type
    expected = classification_report(reference.labels, reference.preds, output_dict=True, zero_division=0)
    for k, name in enumerate(reference.classes):
        assert table.loc[name, "recall"] == f"{expected[str(k)]['recall']:.2f}"
        assert table.loc[name, "support"] == str(int(expected[str(k)]["support"]))


def test_every_section_draws_its_chart(shown, run):
    assert set(_charts(_tab(shown, "Scores"))) == set()  # tables only; the other tabs wait until opened
    charts = {}
    for label in TABS:
        charts.update(_charts(_tab(shown, label)))
    blocks = sum(lay.type == "conv2d" for lay in run.spec.layers)
    expected = {"ev_filters_chart", "ev_cam_chart", "ev_cam_probs", "ev_embedding_chart",
                "ev_curves_chart", *(f"ev_fmap_chart_{b}" for b in range(blocks))}  # fmt: skip
    assert expected <= set(charts)
    curves = charts["ev_curves_chart"]["data"]
    assert [len(_array(t["x"])) for t in curves] == [len(run.history)] * 5  # loss, accuracy (train, val), rate
    assert [t["name"] for t in curves] == ["training", "validation", "training", "validation", "learning rate"]


def test_the_confusion_matrix_switches_between_counts_and_shares(shown, reference):
    matrix = page_tables(_tab(shown, "Scores"))[0]
    counts = matrix.text.to_numpy().astype(int)
    assert counts.sum() == len(reference.labels) and list(matrix.text.columns) == list(reference.classes)
    np.testing.assert_array_equal(counts, sk_confusion(reference.labels, reference.preds, labels=range(len(reference.classes))))
    darkest = matrix.style.to_numpy()[np.unravel_index(counts.argmax(), counts.shape)]
    assert darkest == "background-color: rgb(8, 48, 107); color: white"  # shaded by the largest count
    shown.toggle(key="ev_normalise").set_value(True).run()
    shares = page_tables(shown)[0].text.to_numpy()
    expected = counts / counts.sum(axis=1, keepdims=True)
    assert shares.tolist() == [[f"{x:.0%}" for x in row] for row in expected]
    shown.toggle(key="ev_normalise").set_value(False).run()


def test_the_scores_tab_draws_static_html_tables_not_st_table_or_a_grid(shown):
    """st.table draws each cell through a markdown renderer, a grid is a canvas whose code must load: the Scores tab's
    two tables are one HTML element each (fails on st.table)."""
    _tab(shown, "Scores")
    assert not shown.table and not shown.dataframe
    assert [t.label.split(":")[0] for t in page_tables(shown)] == ["Confusion matrix", "Precision, recall and F1 per class"]
    scores = [e for e in shown.tabs[0] if not isinstance(e, Block)]  # the tab's elements, not its columns
    assert {e.type for e in scores} == {"toggle", "caption", "html"}, {e.type for e in scores}


def test_the_gallery_shows_the_most_confident_mistakes_with_true_and_predicted_class(shown, reference):
    _tab(shown, "Mistakes")
    captions = [c.value for c in shown.caption if "\nsaid **" in c.value]
    wrong = int((reference.preds != reference.labels).sum())
    assert len(captions) == min(12, wrong)
    top = int(np.argmax(np.where(reference.preds != reference.labels, reference.confidence, -1)))
    true, pred = reference.classes[reference.labels[top]], reference.classes[reference.preds[top]]
    assert captions[0] == f"test image {top}: a **{true}**  \nsaid **{pred}** ({reference.confidence[top]:.0%} sure)"


def test_grad_cam_follows_the_chosen_image_class_and_layer(shown, reference):
    _tab(shown, "Grad-CAM")
    shown.number_input(key="ev_image_pos").set_value(5).run()
    title = _charts(shown)["ev_cam_chart"]["layout"]["title"]["text"]
    assert "test image 5: " in title
    assert f"explaining {reference.classes[reference.preds[5]]}" in title
    shown.selectbox(key="ev_cam_class").set_value(7).run()
    assert "explaining 7" in _charts(shown)["ev_cam_chart"]["layout"]["title"]["text"]
    shown.selectbox(key="ev_cam_layer").set_value(0).run()
    cam = _array(_charts(shown)["ev_cam_chart"]["data"][2]["z"])
    assert not shown.exception and cam.shape == (8, 8) and 0 <= cam.min() and cam.max() <= 1


def test_the_embedding_switches_to_tsne_and_filters_to_another_layer(shown):
    _tab(shown, "Embedding").radio(key="ev_embedding").set_value("tsne").run()
    assert "t-SNE 1" in json.dumps(_charts(shown)["ev_embedding_chart"]["layout"])
    _tab(shown, "Filters").selectbox(key="ev_filter_layer").set_value(4).run()
    assert "layer 4: conv2d" in _charts(shown)["ev_filters_chart"]["layout"]["title"]["text"]
    assert not shown.exception


def test_an_uploaded_image_is_converted_with_notices_and_classified(run):
    at = _tab(_page(active_run=run), "Your image")
    at.file_uploader(key="ev_upload_image").set_value(("photo.png", _png(), "image/png")).run()
    notes = _texts(at.info)
    assert "resized from 20×20 to 8×8" in notes and "colour to grey" in notes
    probs = _array(_charts(at)["ev_upload_probs"]["data"][0]["y"])
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=1e-5)
    at.file_uploader(key="ev_upload_image").set_value(("notes.png", b"not a picture", "image/png")).run()
    assert "not an image" in _texts(at.error) and not at.exception
    assert at.metric  # the model's results are still there


def test_a_run_of_this_session_can_be_chosen(run):
    older = dataclasses.replace(run, summary={**run.summary, "val_acc": 0.5})
    at = _page(runs=[older, run])
    options = at.sidebar.radio(key="ev_source").options
    assert options[0] == "Another run of this session" and options[-1] == "A checkpoint file (.pt)"
    assert {m.label: m.value for m in at.metric}["Val accuracy in training"] == f"{run.summary['val_acc']:.1%}"
    at.selectbox(key="ev_run").set_value(0).run()
    assert {m.label: m.value for m in at.metric}["Val accuracy in training"] == "50.0%"


def test_an_uploaded_checkpoint_is_evaluated_and_a_bad_one_is_refused_without_losing_it(run, reference):
    at = _page()
    at.radio(key="ev_source").set_value("upload").run()  # whatever runs the server holds already
    at.file_uploader(key="ev_checkpoint").set_value(("model.pt", checkpoint_bytes(run), "application/octet-stream"))
    at.run()
    accuracy = f"{accuracy_score(reference.labels, reference.preds):.1%}"
    assert {m.label: m.value for m in at.metric}["Accuracy on test"] == accuracy
    at.file_uploader(key="ev_checkpoint").set_value(("broken.pt", b"garbage", "application/octet-stream")).run()
    assert "broken.pt" in _texts(at.error) and "Still showing the last checkpoint" in _texts(at.error)
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Accuracy on test"] == accuracy


def test_a_model_that_does_not_fit_its_dataset_gets_a_clear_message(run):
    spec = network("simple_cnn")  # 3×32×32 images, 4 classes, but the data are 8×8 digits
    mismatched = TrainedRun(spec, run.data_config, {}, build_model(spec).state_dict(), key="mismatch")
    at = _page(active_run=mismatched)
    assert not at.exception
    assert "expects 3×32×32" in _texts(at.error) and "do not belong together" in _texts(at.error)


def test_a_data_config_that_cannot_be_rebuilt_gets_a_clear_message(run):
    config = DataConfig(dataset="digits", n_per_class=2, val_fraction=0.45, test_fraction=0.45)
    at = _page(active_run=dataclasses.replace(run, data_config=config, key="unbuildable"))
    assert not at.exception
    assert "can't be evaluated" in _texts(at.error) and "too few" in _texts(at.error)


def test_without_a_test_split_the_page_says_it_uses_validation(run):
    config = dataclasses.replace(run.data_config, test_fraction=0.0)
    at = _page(active_run=dataclasses.replace(run, data_config=config, key="no-test"))
    assert not at.exception
    assert "no test images" in _texts(at.warning)
    assert "Accuracy on val" in {m.label for m in at.metric}


def test_a_colour_model_shows_its_first_filters_as_rgb_patches_and_later_ones_as_heatmaps():
    shapes = trained_run(DataConfig(dataset="shapes", n_per_class=30, size=16), "tinyvgg", epochs=1)
    at = _tab(_page(active_run=shapes), "Filters")
    assert not at.exception
    assert _charts(at)["ev_filters_chart"]["data"][0]["type"] == "image"
    at.selectbox(key="ev_filter_layer").set_value(2).run()
    assert _charts(at)["ev_filters_chart"]["data"][0]["type"] == "heatmap"
    at.selectbox(key="ev_filter_channel_2").set_value(3).run()
    assert not at.exception


def test_switching_to_another_run_resets_choices_that_no_longer_fit(run):
    at = _tab(_page(active_run=run), "Grad-CAM")
    at.number_input(key="ev_image_pos").set_value(200).run()
    at.selectbox(key="ev_cam_class").set_value(8).run()
    at.session_state["active_run"] = trained_run(DataConfig(dataset="shapes", n_per_class=30, size=16), "tinyvgg", 1)
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["ev_image_pos"] == 0 and at.session_state["ev_cam_class"] == -1


def test_a_run_from_the_servers_model_cache_can_be_chosen(run):
    from cnn_core.runs.model_cache import ModelCache

    ModelCache().put(run, who="anon-1")  # as a finished training of any session leaves it
    at = _page()
    at.sidebar.radio(key="ev_source").set_value("cache").run()
    assert not at.exception and not at.error
    choice = at.selectbox(key="ev_cached")
    assert any(f"val acc {run.summary['val_acc']:.0%}" in o for o in choice.options)
    assert {m.label: m.value for m in at.metric}["Val accuracy in training"] == f"{run.summary['val_acc']:.1%}"


def test_the_parameter_count_is_pytorchs_and_the_architecture_pages(shown, run):
    expected = sum(p.numel() for p in run.build().parameters())
    assert {m.label: m.value for m in shown.metric}["Parameters"] == f"{expected:,}"


def test_grad_cam_and_saliency_carry_colour_scales_and_feature_maps_sit_beside_the_input(shown, run):
    traces = _charts(_tab(shown, "Grad-CAM"))["ev_cam_chart"]["data"]
    bars = [t.get("colorbar", {}).get("title", {}).get("text") for t in traces if t["type"] == "heatmap"]
    assert bars == ["evidence", "effect"] and all(t.get("showscale", True) for t in traces if t["type"] == "heatmap")
    blocks = sum(lay.type == "conv2d" for lay in run.spec.layers)
    inputs = [c for img in _tab(shown, "Feature maps").image for c in img.captions if c.startswith("the input, ")]
    assert len(inputs) == blocks


def test_two_runs_of_one_configuration_each_show_their_own_scores():
    """A stopped run and a completed run share a configuration key; each is evaluated on its own weights."""
    from cnn_core.training.config import TrainConfig
    from cnn_core.training.engine import fit

    ds = make_dataset(DataConfig(dataset="digits", classes=("0", "1", "2", "3"), n_per_class=40))
    spec = network("digits_small", ds.input_shape, ds.num_classes)
    cfg = TrainConfig(lr=3e-3, batch_size=64, epochs=6, schedule="none", precision="fp32")
    first_epoch = __import__("threading").Event()
    stopped = fit(spec, ds, cfg, device="cpu", stop=first_epoch, on_epoch=lambda h: first_epoch.set())
    completed = fit(spec, ds, cfg, device="cpu")
    assert stopped.key == completed.key and stopped.summary["status"] == "stopped"
    at = _page(runs=[stopped, completed])
    for i, run in enumerate((stopped, completed, stopped)):
        at.selectbox(key="ev_run").set_value(i % 2).run()
        ref = evaluate(run.build(), ds)
        shown = {m.label: m.value for m in at.metric}
        assert shown["Accuracy on test"] == f"{accuracy_score(ref.labels, ref.preds):.1%}"
        assert shown["Mistakes"] == str(int((ref.preds != ref.labels).sum()))
    assert accuracy_score(*_pair(stopped, ds)) != accuracy_score(*_pair(completed, ds))  # the test can tell them apart


def _pair(run, ds):
    ev = evaluate(run.build(), ds)
    return ev.labels, ev.preds


# ---------------------------------------------------------------- issue 11: what a learner meets


def _main_order(at: AppTest) -> list[str]:
    """The main area's element types, top to bottom (blocks flattened)."""
    out = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            out.append(child.type)
            walk(child)

    walk(at.main)
    return out


def test_a_fresh_session_does_not_open_on_another_learners_cached_run():
    from cnn_core.runs.model_cache import ModelCache

    shapes = trained_run(DataConfig(dataset="shapes", n_per_class=30, size=16), "tinyvgg", epochs=1)
    ModelCache().put(shapes, who="anon-someone")  # another learner's run, on another dataset
    at = _page()
    assert not at.exception and not at.error
    assert not at.metric  # nothing evaluated
    assert at.sidebar.radio(key="ev_source").value is None
    notes = _texts(at.info)
    assert "No model of yours" in notes and "another learner" in notes and "checkpoint" in notes
    at.sidebar.radio(key="ev_source").set_value("cache").run()  # choosing one is still possible
    assert not at.exception and at.metric


def test_cached_runs_are_told_apart_by_their_differing_settings_date_owner_and_status(run):
    from cnn_core.runs.model_cache import ModelCache
    from cnn_core.training.run import new_run_id

    mine = dataclasses.replace(run, run_id=new_run_id(), train_config={**run.train_config, "lr": 0.0123})
    theirs = dataclasses.replace(run, run_id=new_run_id(), train_config={**run.train_config, "lr": 0.0456},
                                 summary={**run.summary, "status": "stopped"})  # fmt: skip
    from cnn_core.study.owners import OwnerNames, new_owner

    me, other = new_owner(), new_owner()
    cache = ModelCache()
    cache.put(mine, who=me)
    cache.put(theirs, who=other)
    OwnerNames(cache.folder).set(other, "Quiet Owl 12")
    at = _page(board_owner=me)
    at.sidebar.radio(key="ev_source").set_value("cache").run()
    options = at.selectbox(key="ev_cached").options
    [mine_label] = [o for o in options if "lr 0.0123" in o]
    [their_label] = [o for o in options if "lr 0.0456" in o]
    assert mine_label != their_label
    assert "(you)" in mine_label and "Quiet Owl 12" in their_label and "you" not in their_label
    assert "stopped" in their_label and "completed" in mine_label
    assert "UTC" in mine_label  # when it was trained
    assert "momentum" not in mine_label  # a setting every listed run shares is left out


def _not_a_checkpoint_zip() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("photos/cat.png", _png())
    return buf.getvalue()


def _whole_model_pickle(run) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(run.build(), buf)  # a whole nn.Module: loading it needs weights_only=False
    return buf.getvalue()


DAMAGED = {
    "truncated": (lambda run: checkpoint_bytes(run)[:5000], "cut short"),
    "random": (lambda run: np.random.default_rng(1).bytes(4000), "not a PyTorch checkpoint"),
    "zip": (lambda run: _not_a_checkpoint_zip(), "zip archive"),
    "pickle": (_whole_model_pickle, "program code"),
}
TORCH_WORDS = ("pop from empty list", "Weights only", "weights_only", "PyTorch 2.6", "PytorchStreamReader",
               "central directory", "load key", "Unpickl", "torch.load", "Error", "hasRecord", "seek")  # fmt: skip


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_a_damaged_checkpoint_gets_one_plain_sentence_and_none_of_torchs_message(run, case):
    make, expected = DAMAGED[case]
    at = _page()
    at.sidebar.radio(key="ev_source").set_value("upload").run()  # the server's cache may hold runs of other tests
    at.file_uploader(key="ev_checkpoint").set_value((f"{case}.pt", make(run), "application/octet-stream")).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    sentence = error.split("can't be used: ", 1)[1]
    assert expected in sentence and "Training page" in sentence  # what is wrong, and what to do
    assert not [w for w in TORCH_WORDS if w in sentence], sentence
    assert sentence.endswith(".") and sentence.count(". ") == 0  # one sentence


def test_one_numbering_image_position_in_the_split_everywhere(shown, reference):
    shown.number_input(key="ev_image_pos").set_value(0).run()
    caption = [c.value for c in shown.sidebar.caption if "predicted" in c.value][0]
    assert caption.startswith("Test image 0:") and f"#{reference.indices[0]}" not in caption
    assert "test image 0:" in _charts(_tab(shown, "Grad-CAM"))["ev_cam_chart"]["layout"]["title"]["text"]
    assert shown.sidebar.number_input(key="ev_image_pos").label.startswith("Test image to look inside")
    gallery = [c.value for c in _tab(shown, "Mistakes").caption if "\nsaid **" in c.value]
    top = int(np.argmax(np.where(reference.preds != reference.labels, reference.confidence, -1)))
    assert gallery[0].startswith(f"test image {top}: a **")
    hover = json.dumps(_charts(_tab(shown, "Embedding"))["ev_embedding_chart"]["data"][0]["hovertemplate"])
    assert "test image" in hover


@pytest.mark.parametrize("status", ["diverged", "stopped", "unstable"])
def test_a_run_that_did_not_finish_well_is_named_before_the_scores(run, status):
    reason = {"diverged": "the loss diverged (it became NaN or infinite): try a smaller learning rate",
              "stopped": "stopped by the user after epoch 2",
              "unstable": "validation accuracy 10.0% is at chance level"}[status]  # fmt: skip
    at = _page(active_run=dataclasses.replace(run, summary={**run.summary, "status": status, "reason": reason}))
    assert not at.exception
    warning = _texts(at.warning)
    assert status in warning and reason in warning
    order = _main_order(at)
    assert order.index("warning") < order.index("metric")  # before the scores


def test_a_completed_run_gets_no_status_warning(shown):
    assert not shown.warning


# ---------------------------------------------------------------- issue 24: a first visit computes only what it shows


def test_a_first_visit_computes_the_scores_and_nothing_the_closed_tabs_need(run, monkeypatch):
    import ui.eval_runs as runs

    calls = {"embedding": 0, "explanation": 0, "block_maps": 0}

    def counting(name):
        fn = getattr(runs, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    for name in calls:
        monkeypatch.setattr(runs, name, counting(name))
    at = _page(active_run=run)
    assert not at.exception and {m.label for m in at.metric} >= {"Accuracy on test"}
    assert calls == {"embedding": 0, "explanation": 0, "block_maps": 0}
    _tab(at, "Embedding")
    assert calls == {"embedding": 1, "explanation": 0, "block_maps": 0}
    _tab(at, "Grad-CAM")
    assert not at.exception and calls["explanation"] == 1 and calls["block_maps"] == 0


def test_a_session_that_reads_scores_already_computed_builds_no_model(run, monkeypatch):
    """The per-session model (its weights on the device, a copy per session for Grad-CAM's hooks) is built only when
    a tab or an evaluation not yet cached needs it: a learner reading the shared scores builds none."""
    built, build = [], TrainedRun.build

    def counting(self, *args, **kwargs):
        built.append(1)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(TrainedRun, "build", counting)
    _page(active_run=run)  # the scores of this run are in the shared cache from here on (built, if this is the first)
    built.clear()
    at = _page(active_run=run)  # another session
    for tab in ("Scores", "Mistakes", "Embedding", "Training"):
        _tab(at, tab)
    assert not at.exception and "eval_model" not in at.session_state and built == []
    _tab(at, "Grad-CAM")
    assert not at.exception and built == [1] and "eval_model" in at.session_state
