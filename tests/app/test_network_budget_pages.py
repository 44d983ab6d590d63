"""A network too large for the server's memory plan: the Architecture page warns well before the limit and says past
it that the Training page won't train it; the Training page shows why and turns Train off. Judged as on a class
server (2 cores, 2.7 GB), whatever machine runs the tests."""

import pytest

from cnn_core.nets.layers import layer
from cnn_core.nets.spec import ModelSpec
from cnn_core.runs.resources import Limits, plan
from tests.helpers import open_page

CLOUD = Limits(cpus=2, memory=int(2.7e9), cpu_source="", memory_source="")


def wide(channels: int) -> ModelSpec:
    """One 3×3 conv of `channels` on 3×32×32 images, then the classes: its activations grow with the channels."""
    return ModelSpec((3, 32, 32), 4, (layer("conv2d", out_channels=channels, padding=1), layer("relu"),
                                      layer("flatten"), layer("linear", out_features=4)))  # fmt: skip


GIANT = ModelSpec((3, 32, 32), 4, (layer("flatten"), layer("linear", out_features=400_000), layer("linear", out_features=4)))


@pytest.fixture(autouse=True)
def class_server(monkeypatch):
    import ui.server

    monkeypatch.setattr(ui.server, "server_facts", lambda: (CLOUD, plan(CLOUD, "cpu")))


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def import_network(spec: ModelSpec):
    at = open_page("app_pages/architecture.py", arch_tab="Import")  # only the open tab runs
    at.text_area(key="arch_import_text").set_value(spec.to_json())
    at.button(key="arch_import").click().run()
    assert not at.exception
    return at


def test_the_architecture_page_is_quiet_for_a_small_network_warns_for_a_large_one_and_refuses_a_giant():
    small = import_network(wide(16))
    assert "this server" not in _texts(small.warning) + _texts(small.error)
    large = import_network(wide(1024))
    assert "This network is large for this server" in _texts(large.warning)
    assert "of the 1.3 GB a training run may use here" in _texts(large.warning)
    giant = import_network(GIANT)
    refusal = _texts(giant.error)
    assert "too large for this server: it has 1.2 G parameters" in refusal
    assert "The Training page will not train it" in refusal


def test_the_training_page_refuses_train_for_a_giant_and_allows_a_large_one_with_a_warning():
    at = open_page("app_pages/training.py", model_spec=GIANT)
    assert not at.exception and "too large for this server" in _texts(at.error)
    assert "Train is off until it fits" in _texts(at.error) and at.button(key="tr_train").disabled
    at = open_page("app_pages/training.py", model_spec=wide(1024))
    assert "large for this server" in _texts(at.warning) and not at.button(key="tr_train").disabled
