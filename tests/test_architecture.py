"""The layout holds: import-linter's contracts (one-way layers, no cycles, no streamlit in the core) pass on the
real tree and fail on a tree with a wrong-way import; no module is over 300 lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHECKED = ("cnn_core", "ui", "app_pages")  # the import-linter root packages, and the folders kept short
MAX_LINES = 300


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
               "--no-cache", "--no-logo"]  # fmt: skip
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)


def copy_of_tree(tmp_path: Path) -> Path:
    for name in CHECKED:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_import_contracts_are_kept():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


WRONG_WAY = {
    "a lower layer importing a higher one": ("cnn_core/data/config.py", "from cnn_core.training.config import TrainConfig"),
    "two independent siblings": ("cnn_core/nets/spec.py", "from cnn_core.data.config import DataConfig"),
    "the core importing streamlit": ("cnn_core/conv/ops.py", "import streamlit"),
    "the core importing the app": ("cnn_core/runs/registry.py", "import ui.state"),
    "ui importing a page": ("ui/plots.py", "import app_pages.home"),
    "a cycle inside a folder": ("cnn_core/nets/layers.py", "from cnn_core.nets.spec import ModelSpec"),
}  # fmt: skip


@pytest.mark.parametrize("case", WRONG_WAY)
def test_a_wrong_way_import_breaks_a_contract(case, tmp_path):
    tree = copy_of_tree(tmp_path)
    module, line = WRONG_WAY[case]
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    out = lint_imports(tree)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-2000:]
    assert "BROKEN" in out.stdout and " 0 broken" not in out.stdout


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for folder in CHECKED for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, f"split these along their seams: {long}"


def test_every_folder_of_the_core_says_what_it_offers():
    folders = [p for p in (ROOT / "cnn_core").iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert len(folders) >= 8
    for folder in folders:
        init = folder / "__init__.py"
        assert init.is_file() and init.read_text().startswith('"""'), f"{folder.name}/__init__.py needs a docstring"
