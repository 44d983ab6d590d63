"""The docs hold: the README's notebook example runs, its two commands are CI's, every `python -m cnn_core …`
example in the README and docs/ parses with the real CLI, and every link into docs/ and docs/images/ exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
INSTALL_AND_RUN = "pip install -r requirements.txt && streamlit run streamlit_app.py"
INSTALL_AND_TEST = "pip install -q -r requirements-dev.txt && python -m pytest"


def notebook_example() -> str:
    """The first ```python block under the README's heading that names a notebook."""
    text = README.read_text()
    heading = re.search(r"^#+ .*notebook.*$", text, re.M | re.I)
    assert heading, "the README has no notebook heading"
    block = re.search(r"```python\n(.*?)```", text[heading.end() :], re.S)
    assert block, "no ```python block under the notebook heading"
    return block.group(1)


def cli_examples() -> list[tuple[str, str]]:
    """(file, command) for every `python -m cnn_core …` line in a code block, continuation lines joined."""
    found = []
    for path in [README, *DOCS]:
        for block in re.findall(r"```[a-z]*\n(.*?)```", path.read_text(), re.S):
            for command in block.replace("\\\n", " ").splitlines():
                command = command.strip().removeprefix("$ ")
                if command.startswith("python -m cnn_core "):
                    found.append((path.name, command))
    return found


def test_the_readme_is_short_and_shows_the_two_commands_ci_runs():
    text = README.read_text()
    assert len(text.splitlines()) <= 220
    assert INSTALL_AND_RUN in text and INSTALL_AND_TEST in text
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_the_notebook_example_runs_from_the_repo_root():
    code = notebook_example()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test accuracy" in out.stdout


@pytest.mark.parametrize("where, command", cli_examples() or [("", "")])
def test_every_cli_example_in_the_docs_parses(where, command):
    from cnn_core.cli.main import build_parser

    assert command, "the docs show no `python -m cnn_core …` example"
    words = [w for w in shlex.split(command, comments=True) if not w.startswith(("|", ">"))]
    args = words[3 : next((i for i, w in enumerate(words) if w in ("&&", "|", ">")), len(words))]
    parsed = build_parser().parse_args(args)  # a wrong subcommand or flag raises the CLI's usage error
    assert callable(parsed.run), f"{where}: {command}"


def test_every_link_into_the_repo_from_the_docs_exists():
    for path in [README, *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"
