"""The router, the Home page and the Dataset page, driven through AppTest."""


import numpy as np
import pytest

from tests.app.pictures import inline_gallery
from ui.plots import display_scale, tile


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_home_explains_the_app_and_links_the_pages(app):
    at = app()
    assert not at.exception
    assert at.title[0].value == "CNN Lab"
    assert "convolutional neural network" in at.markdown[0].value


def test_dataset_page_shows_the_classic_task_by_default(app):
    at = app("app_pages/dataset.py")
    assert not at.exception and not at.error
    m = metrics(at)
    assert m["Images"] == "1,000" and m["Image shape"] == "3×32×32" and m["Classes"] == "4"
    assert (m["Train"], m["Validation"], m["Test"]) == ("696", "152", "152")
    assert [t.label for t in at.tabs] == ["Samples", "Channels", "Class balance", "Pixel values", "Class averages"]
    gallery = inline_gallery(at)  # one HTML element, its tiles inline: no image file per tile to fetch
    assert [name for name, _, _ in gallery] == ["circle", "square", "diagonal", "ring"]
    assert all(len(caps) == 8 == len(tiles) for _, caps, tiles in gallery)  # 8 samples of each class
    ds = at.session_state["dataset"]
    for k, (_, caps, tiles) in enumerate(gallery):
        first = int(caps[0].lstrip("#").replace(",", ""))
        assert ds.labels[first] == k  # each tile is an image of its class, numbered as in the dataset
        assert np.array_equal(tiles[0], tile(ds.images[first], display_scale(32, 80)))
    assert not at.tabs[0].get("image")
    assert not at.tabs[4].get("image")  # only the open tab is computed and sent
    open_tab(at, "Class averages")
    assert at.tabs[4].get("image")[0].captions == ["circle", "square", "diagonal", "ring"]
    assert at.session_state["dataset"].images.shape == (1000, 3, 32, 32)


@pytest.mark.parametrize(
    "key, value, expect",
    [
        ("ds_n_per_class", 40, {"Images": "160"}),
        ("ds_size", 48, {"Image shape": "3×48×48"}),
        ("ds_classes", ["circle", "triangle", "cross"], {"Classes": "3", "Images": "750"}),
        ("ds_val_fraction", 0.2, {"Train": "648", "Validation": "200", "Test": "152"}),
        ("ds_test_fraction", 0.0, {"Train": "848", "Validation": "152", "Test": "0"}),
    ],
)
def test_each_sidebar_knob_changes_the_dataset(app, key, value, expect):
    at = app("app_pages/dataset.py")
    at.session_state[key] = value
    at.run()
    assert not at.exception and not at.error
    for label, shown in expect.items():
        assert metrics(at)[label] == shown


@pytest.mark.parametrize(
    "key, value",
    [("ds_noise", 0.3), ("ds_position_jitter", 0.2), ("ds_scale_jitter", 0.3), ("ds_rotation", 90),
     ("ds_clutter", 4), ("ds_color_mode", "random"), ("ds_seed", 7)],
)  # fmt: skip
def test_difficulty_knobs_make_a_new_dataset(app, key, value):
    at = app("app_pages/dataset.py")
    before = at.session_state["dataset"]
    at.session_state[key] = value
    at.run()
    assert not at.exception and not at.error
    after = at.session_state["dataset"]
    assert getattr(after.config, key[3:]) == value and after.config != before.config
    assert (after.images != before.images).any()


def test_switching_to_digits_uses_the_digit_defaults(app):
    at = app("app_pages/dataset.py")
    at.sidebar.selectbox(key="ds_dataset").set_value("digits").run()
    assert not at.exception and not at.error
    m = metrics(at)
    assert m["Images"] == "1,797" and m["Image shape"] == "1×8×8" and m["Classes"] == "10"
    # Shape-only knobs are disabled for real digits.
    assert next(s for s in at.sidebar.slider if s.key == "ds_rotation").disabled
    # A random split puts the same writers in training and test: the page says so.
    assert any("same 13 people" in c.value and "flatter" in c.value for c in at.sidebar.caption)


def test_a_bad_choice_shows_an_error_and_keeps_the_last_dataset(app):
    at = app("app_pages/dataset.py")
    at.sidebar.multiselect(key="ds_classes").set_value(["ring"]).run()
    assert not at.exception
    assert "at least two classes" in at.error[0].value
    assert metrics(at)["Classes"] == "4"  # the previous dataset is still shown
    assert at.session_state["dataset"].num_classes == 4


def open_tab(at, label: str):
    at.session_state["ds_tab"] = label
    return at.run()


def test_channels_view_follows_the_chosen_image(app):
    at = open_tab(app("app_pages/dataset.py"), "Channels")
    at.number_input(key="ds_channel_image").set_value(300).run()
    assert not at.exception
    captions = [c for image in at.get("image") for c in image.captions]
    assert "#300: square" in captions  # labels run in class order: 250 circles, then squares


def test_the_channels_are_pictures_of_each_channel_alone_with_their_range(app, monkeypatch):
    """No Plotly chart (fails on the old tab, one figure of three heatmaps): the tab's first opening loads no chart
    library. Each channel is the image with the other two set to 0, and its caption gives its smallest and largest
    value."""
    import numpy as np

    from tests.app.pictures import picture, record
    from ui.plots import display_scale, tile

    media = record(monkeypatch)
    at = open_tab(app("app_pages/dataset.py"), "Channels")
    at.number_input(key="ds_channel_image").set_value(7).run()
    assert not at.exception and not at.get("plotly_chart")
    image = at.session_state["dataset"].images[7]
    scale = display_scale(image.shape[1], 160)
    for j, name in enumerate(("red", "green", "blue")):
        caption, pixels = picture(at, media, f"{name} channel")
        alone = np.zeros_like(image)
        alone[j] = image[j]
        assert np.array_equal(pixels, tile(alone, scale)), name
        assert caption == f"{name} channel: {image[j].min():.2f} to {image[j].max():.2f}"
    _, whole = picture(at, media, "#7: ")
    assert np.array_equal(whole, tile(image, scale))


def test_settings_survive_a_visit_to_another_page(app):
    at = app("app_pages/dataset.py")
    at.sidebar.slider(key="ds_size").set_value(40).run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/dataset.py").run()
    assert metrics(at)["Image shape"] == "3×40×40"


# ---------------------------------------------------------------- issue 11: what a learner meets


def chart_spec(at, key: str) -> dict:
    import json

    return json.loads(next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id).proto.spec)


def test_clearing_every_class_asks_for_two_instead_of_the_defaults(app):
    at = app("app_pages/dataset.py")
    at.sidebar.multiselect(key="ds_classes").set_value([]).run()
    assert not at.exception
    assert "choose at least two classes" in at.error[0].value.lower()
    assert at.session_state["data_config"].classes == ("circle", "square", "diagonal", "ring")  # the last that worked


def test_too_few_images_per_class_for_the_split_is_said_on_the_dataset_page(app):
    at = app("app_pages/dataset.py")
    assert not at.warning
    at.sidebar.number_input(key="ds_n_per_class").set_value(2).run()
    assert not at.exception and not at.error
    assert metrics(at)["Validation"] == "0"
    text = " ".join(w.value for w in at.warning)
    assert "Too few images per class for the split" in text and "validation share of 15% rounds to 0" in text
    assert "Use at least 4 images per class" in text  # 4 × 0.15 = 0.6 rounds to 1


def test_every_count_uses_the_same_number_format(app):
    at = app("app_pages/dataset.py")
    at.sidebar.selectbox(key="ds_dataset").set_value("digits").run()
    m = metrics(at)
    assert m["Images"] == "1,797" and m["Train"] == "1,259"


def test_the_pixel_histogram_labels_its_log_axis_at_powers_of_ten(app):
    at = open_tab(app("app_pages/dataset.py"), "Pixel values")
    axis = chart_spec(at, "ds_hist_chart")["layout"]["yaxis"]
    assert axis["type"] == "log" and axis["dtick"] == 1 and axis["tickformat"] == ",d"


def test_one_channel_is_called_grey(app):
    at = app("app_pages/dataset.py")
    at.sidebar.selectbox(key="ds_dataset").set_value("digits").run()
    open_tab(at, "Channels")
    assert at.image[1].captions[0].startswith("grey channel: ") and len(at.image[1].captions) == 1


def test_tiny_images_get_a_transparent_margin_so_rounded_corners_clip_nothing():
    import numpy as np

    from ui.plots import TILE_MARGIN, tile, to_display

    digit = np.random.default_rng(0).random((1, 8, 8)).astype(np.float32)
    shown = tile(digit, 10)
    assert shown.shape == (80 + 2 * TILE_MARGIN, 80 + 2 * TILE_MARGIN, 4) and TILE_MARGIN >= 4
    inner = shown[TILE_MARGIN:-TILE_MARGIN, TILE_MARGIN:-TILE_MARGIN]
    assert (inner[..., 3] == 255).all() and (inner[..., 0] == to_display(digit, 10)).all()
    assert (shown[:TILE_MARGIN, :, 3] == 0).all() and (shown[:, -TILE_MARGIN:, 3] == 0).all()


# ---------------------------------------------------------------- issue 24: what makes the page fast


def test_a_change_that_keeps_the_config_regenerates_nothing(app, monkeypatch):
    """Back to a config seen before, another image, another tab: no dataset built, no tile encoded, no channel drawn."""
    import ui.data_views as views
    import ui.state as state
    from cnn_core.data.config import DataConfig

    calls = {"dataset": 0, "png": 0, "channels": 0}

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(state, "make_dataset", counting("dataset", state.make_dataset))
    monkeypatch.setattr(views, "png", counting("png", views.png))
    monkeypatch.setattr(views, "channel_tiles", counting("channels", views.channel_tiles))
    at = app("app_pages/dataset.py")
    at.session_state["ds_noise"] = 0.37  # a config no other test uses
    open_tab(at, "Channels")
    assert calls["dataset"] >= 1 and calls["channels"] >= 1  # the counters count
    calls.update(dataset=0, png=0, channels=0)
    at.session_state["ds_noise"] = DataConfig().noise
    at.run()  # the default config: already built by this server
    at.session_state["ds_noise"] = 0.37
    at.run()
    open_tab(at, "Samples")
    open_tab(at, "Channels")
    for _ in range(2):
        at.number_input(key="ds_channel_image").set_value(1).run()
        at.number_input(key="ds_channel_image").set_value(0).run()
    assert not at.exception
    assert calls["dataset"] == 0 and calls["channels"] <= 2  # the default's channels and image 1's, once each
    open_tab(at, "Samples")
    open_tab(at, "Channels")
    open_tab(at, "Samples")
    assert calls["dataset"] == 0 and calls["channels"] <= 2 and calls["png"] <= 32 + 2 * 4
    # the gallery's 32 tiles encoded once for its two visits, and two images' pictures (whole and 3 channels) once


def test_shared_figures_are_keyed_by_the_dataset_config_and_reused():
    """The same config gives the very same figure object (sent as the same spec); another config, another."""
    from cnn_core.data.config import DataConfig
    from cnn_core.data.dataset import make_dataset
    from ui.data_views import balance_figure, gallery_pngs

    one, other = DataConfig(n_per_class=20, seed=3), DataConfig(n_per_class=20, seed=4)
    ds_one, ds_other = make_dataset(one), make_dataset(other)
    assert balance_figure(one, ds_one) is balance_figure(DataConfig(n_per_class=20, seed=3), ds_other)
    assert balance_figure(one, ds_one) is not balance_figure(other, ds_other)
    assert gallery_pngs(one, ds_one)[0][1] != gallery_pngs(other, ds_other)[0][1]  # other images, other tiles


def test_the_image_number_reruns_only_the_channels_tab(app, monkeypatch):
    """The Channels tab is a fragment: a change of its image number reruns and resends that tab, not the page (the
    sidebar, the metrics, the tabs), as the deltas' fragment id says: the browser sends that id with the change."""
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    sent = []  # the last run's messages
    forward_msgs = LocalScriptRunner.forward_msgs

    def recording(self):
        sent[:] = forward_msgs(self)
        return sent

    monkeypatch.setattr(LocalScriptRunner, "forward_msgs", recording)
    open_tab(app("app_pages/dataset.py"), "Channels")
    deltas = [m.delta for m in sent if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"]
    by_kind = {}
    for d in deltas:
        element = d.new_element
        kind = element.WhichOneof("type")
        if kind == "number_input" and element.number_input.id.endswith("ds_channel_image"):
            kind = "image number"
        by_kind.setdefault(kind, set()).add(d.fragment_id)
    fragment = by_kind["image number"]
    assert len(fragment) == 1 and "" not in fragment
    assert by_kind["imgs"] == fragment  # the image and its channels' pictures are in it
    assert by_kind["metric"] == {""} and "" in by_kind["slider"]  # the rest of the page is not
