"""Shared test helpers: the repo root, and an AppTest factory that starts at the router."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

# OpenMP's threads wait for work asleep, not spinning: with pytest-xdist's two processes, their servers and training
# workers on two cores, a spinning torch thread burns the core another process needs (the README's notebook example
# under load: 16-22 s of CPU spinning, 7 s asleep). The thread counts, and so every number, stay as they are. Set
# before torch loads; the servers, workers and CLI processes the tests start inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# No training worker starts before a test's first run: every test of the Training page makes a fresh manager, and
# each would start workers that import torch (about 1.5 s of CPU each) only to be shut down at the test's end.
# tests/runs/test_executor.py and tests/app/test_jobs.py turn it on where they check the warm start.
os.environ.setdefault("CNN_LAB_WARM_WORKERS", "0")

# Hypothesis keeps no example database (no .hypothesis/ folder in the repo) and a few examples per test: the
# fuzz tests check that no input gives a traceback, within seconds.
settings.register_profile("cnn_lab", database=None, max_examples=int(os.environ.get("CNN_LAB_EXAMPLES", 60)), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.load_profile("cnn_lab")


@pytest.fixture
def app():
    """A factory: `app("app_pages/dataset.py")` runs the router and switches to that page."""
    from streamlit.testing.v1 import AppTest

    def open_page(page: str | None = None, timeout: float = 60):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return open_page


@pytest.fixture(autouse=True, scope="session")
def _isolated_model_cache(tmp_path_factory):
    """Tests never read or fill the user's model cache."""
    os.environ["CNN_LAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("model-cache"))


REAL_MAIN = sys.modules["__main__"]  # pytest's (or an xdist worker's), as this process started


@pytest.fixture(autouse=True)
def _main_module_restored():
    """AppTest runs a page as `__main__` and leaves it there (a module-scoped fixture's AppTest too); a process
    spawned later in the same test process (multiprocessing's spawn re-runs `__main__`) would run that page.
    Each test ends with the real one back."""
    yield
    sys.modules["__main__"] = REAL_MAIN


@pytest.fixture
def torch_state_untouched():
    """The test leaves no thread running and torch's thread count as it found it."""
    import threading

    import torch

    threads, before = torch.get_num_threads(), set(threading.enumerate())
    yield
    assert torch.get_num_threads() == threads, "the test changed torch's thread count"
    leaked = [t.name for t in threading.enumerate() if t not in before]
    assert not leaked, f"the test left threads running: {leaked}"


# The longest files start first, so that pytest-xdist's processes finish together instead of one waiting on a
# long file that was handed out last (a scheduling hint only: any order passes). pyproject.toml turns off xdist's
# own reordering (by number of tests per file), which would hand out the one-test class benchmark last.
LONGEST_FIRST = ("browser/test_class_benchmark.py", "runs/test_worker_faults.py", "browser/test_lesson.py",
                 "runs/test_executor.py", "app/test_page_training.py", "browser/test_routing.py",
                 "browser/test_latency_benchmark.py", "test_docs.py", "app/test_page_experiments.py",
                 "cli/test_experiment_commands.py", "app/test_page_my_images.py", "cli/test_data_command.py",
                 "app/test_page_convolution.py", "app/test_page_dataset.py", "browser/test_browser.py")  # fmt: skip


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.path.relative_to(ROOT / "tests").as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)
