"""What needs no torch doesn't import it: the pages that explain, the calculator, codegen, configs and the CLI's parser.

Each case runs in a fresh interpreter and prints whether torch got imported; a broken case fails, never passes.
"""

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def open_page(page: str) -> str:
    return (f"from streamlit.testing.v1 import AppTest\n"
            f"at = AppTest.from_file({str(ROOT / 'streamlit_app.py')!r}, default_timeout=60).run()\n"
            f"at.switch_page({page!r}).run(); assert not at.exception, at.exception")  # fmt: skip


CASES = {
    "home page, the first visit after a cold start": (
        f"from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'streamlit_app.py')!r}, default_timeout=60).run(); assert not at.exception"),
    "dataset page": open_page("app_pages/dataset.py"),
    "convolution page": open_page("app_pages/convolution.py"),
    "architecture page": open_page("app_pages/architecture.py"),
    "summary and codegen": "from cnn_core.nets.codegen import generate_code; from cnn_core.nets.presets import network\n"
                           "from cnn_core.nets.summary import summarize\n"
                           "generate_code(network('simple_cnn')); summarize(network('tinyvgg'))",
    "configs and datasets": "from cnn_core.data.config import DataConfig; from cnn_core.data.dataset import make_dataset\n"
                            "from cnn_core.training.config import TrainConfig\n"
                            "make_dataset(DataConfig(n_per_class=5)); TrainConfig.from_json(TrainConfig().to_json())",
    "the package's public face, and its configs": "import cnn_core\n"
                                                  "cnn_core.DataConfig(); cnn_core.TrainConfig(); cnn_core.network('lenet5')",
    "the CLI's parser": "from cnn_core.cli.main import build_parser; build_parser().parse_args(['train', '--epochs', '2'])",
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_torch_is_not_imported(case):
    code = f"import sys\n{CASES[case]}\nprint('torch imported' if 'torch' in sys.modules else 'no torch')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "no torch"


def test_every_public_name_is_the_one_its_module_defines():
    import importlib

    import cnn_core

    for name, module in cnn_core.PUBLIC.items():
        assert getattr(cnn_core, name) is getattr(importlib.import_module(module), name)
    assert set(cnn_core.__all__) == set(cnn_core.PUBLIC)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        cnn_core.nonexistent  # noqa: B018
