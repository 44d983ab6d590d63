"""Your own images through the app: the Dataset page's three ways in, then training and evaluation on them."""


from cnn_core.data.examples import example_zip
from cnn_core.runs.checkpoint import save_checkpoint
from tests.app.test_page_training import poll_until_finished, private_cache  # noqa: F401 - private_cache: autouse
from tests.image_files import BLUE, RED, layout, picture, two_classes, zip_of


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def my_images(app, source: str):
    at = app("app_pages/dataset.py")
    at.sidebar.selectbox(key="ds_dataset").set_value("folder").run()
    at.radio(key="ds_my_source").set_value(source).run()
    return at


def upload_zip(at, data: bytes, name: str = "photos.zip"):
    return at.file_uploader(key="ds_zip").set_value((name, data, "application/zip")).run()


def test_before_any_images_the_page_says_what_to_do_and_keeps_the_last_dataset(app):
    at = app("app_pages/dataset.py")
    at.sidebar.selectbox(key="ds_dataset").set_value("folder").run()
    assert not at.exception and not at.error
    assert "Bring at least two classes" in at.info[0].value
    assert at.session_state["data_config"].dataset == "shapes"


def test_the_example_set_makes_a_dataset_with_every_view(app):
    at = my_images(app, "example")
    at.button(key="ds_use_example").click().run()
    assert not at.exception and not at.error
    m = metrics(at)
    assert (m["Images"], m["Image shape"], m["Classes"]) == ("48", "3×32×32", "2")
    assert [t.label for t in at.tabs] == ["Samples", "Channels", "Class balance", "Pixel values", "Class averages"]
    at.session_state["ds_tab"] = "Class averages"
    assert at.run().tabs[4].get("image")[0].captions == ["happy", "sad"]
    cfg = at.session_state["data_config"]
    assert cfg.dataset == "folder" and cfg.classes == ("happy", "sad") and len(cfg.digest) == 32
    assert any("README.txt" in c.value for c in at.caption)  # the skipped file is reported


def test_an_uploaded_zip_with_grey_and_size_settings(app):
    at = upload_zip(my_images(app, "zip"), zip_of(layout(two_classes(10), root="mine/")))
    at.sidebar.slider(key="ds_size").set_value(24).run()
    at.sidebar.radio(key="ds_image_mode").set_value("grey").run()
    assert not at.exception and not at.error
    m = metrics(at)
    assert (m["Images"], m["Image shape"], m["Train"], m["Validation"], m["Test"]) == ("20", "1×24×24", "12", "4", "4")
    at.sidebar.number_input(key="ds_n_per_class").set_value(4).run()
    assert metrics(at)["Images"] == "8"


def test_a_bad_zip_is_explained_and_nothing_changes(app):
    at = upload_zip(my_images(app, "zip"), zip_of({"../escape/a.png": picture()}))
    assert not at.exception
    assert "path outside its folder" in at.error[0].value
    at.sidebar.slider(key="ds_size").set_value(40).run()
    assert "path outside its folder" in at.error[0].value  # it stays while that zip is there
    at = upload_zip(at, zip_of({"cats/a.png": picture(), "cats/b.png": picture(seed=1)}), "one.zip")
    assert "only one class (cats)" in at.error[0].value
    assert at.session_state["data_config"].dataset == "shapes"


def test_two_images_per_class_warn_that_the_split_is_empty(app):
    at = upload_zip(my_images(app, "zip"), zip_of(layout(two_classes(2))))
    assert not at.exception and not at.error
    assert "Too few images per class for the split" in at.warning[0].value


def test_class_by_class_uploads_and_camera_pictures(app):
    at = my_images(app, "classes")
    at.text_input(key="ds_class_name_0").set_value("apple")
    at.text_input(key="ds_class_name_1").set_value("pear")
    at.file_uploader(key="ds_class_files_0").set_value([(f"a{i}.png", picture(RED, seed=i), "image/png")
                                                        for i in range(5)]).run()  # fmt: skip
    at.selectbox(key="ds_camera_class").set_value(1).run()
    for i in range(4):  # four pictures of pears with the camera, one at a time
        at.camera_input(key="ds_camera").set_value((f"p{i}.jpg", picture(BLUE, seed=50 + i, fmt="JPEG"),
                                                    "image/jpeg")).run()  # fmt: skip
    assert "+ 4 camera pictures" in [c.value for c in at.caption]
    at.button(key="ds_make_classes").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["Images"] == "9" and at.session_state["data_config"].classes == ("apple", "pear")
    assert at.session_state["dataset"].labels.tolist().count(1) == 4


def test_upload_a_zip_train_a_tiny_run_and_evaluate_it_then_another_session_asks_for_the_images(app, tmp_path):
    data = example_zip()
    at = upload_zip(my_images(app, "zip"), data, "faces.zip")
    at.sidebar.slider(key="ds_size").set_value(16).run()
    at.switch_page("app_pages/training.py").run()
    assert not at.exception and not at.error
    assert "SimpleCNN" in at.caption[0].value  # no Architecture visit: the default network for your images
    at.slider(key="tr_epochs").set_value(1).run()
    at.button(key="tr_train").click().run()
    poll_until_finished(at, limit=120)
    assert not at.exception and not at.error
    run = at.session_state["active_run"]
    assert run.data_config.dataset == "folder" and run.spec.input == (3, 16, 16)
    at.switch_page("app_pages/evaluation.py").run()
    assert not at.exception and not at.error
    assert metrics(at)["Images evaluated"] == "8"  # 15 % of 24 faces, per class

    # A new session with the checkpoint: the images are not its own, so the page asks for them.
    path = tmp_path / "faces.pt"
    save_checkpoint(run, path)
    other = app("app_pages/evaluation.py")
    other.sidebar.radio(key="ev_source").set_value("upload").run()
    other.sidebar.file_uploader(key="ev_checkpoint").set_value(("faces.pt", path.read_bytes(), "application/octet-stream"))
    other.run()
    assert not other.exception and "happy, sad" in other.warning[0].value and not other.metric
    other.file_uploader(key="my_images_again").set_value(("x.zip", zip_of(layout(two_classes(4))), "application/zip"))
    other.run()
    assert "holds other images" in other.error[0].value
    other.file_uploader(key="my_images_again").set_value(("faces.zip", data, "application/zip")).run()
    assert not other.exception and not other.error
    assert metrics(other)["Images evaluated"] == "8"


def test_your_images_stay_chosen_after_a_visit_to_another_page(app):
    at = my_images(app, "example")
    at.button(key="ds_use_example").click().run()
    at.sidebar.slider(key="ds_size").set_value(20).run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/dataset.py").run()
    assert not at.exception and not at.error
    assert metrics(at)["Image shape"] == "3×20×20" and at.session_state["data_config"].dataset == "folder"
