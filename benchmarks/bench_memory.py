"""Memory of the app with a given PyTorch build, and its cold start (issue: deploying within 2.7 GB).

For each Python interpreter (the current one, plus any `--python PATH`, e.g. a venv with the CPU
build of torch), it measures:
- `import torch` alone: resident memory (peak RSS) of a fresh process;
- one training worker: peak RSS of a process training the classic recipe (SimpleCNN, default shapes);
- the server: a real `streamlit run`, one Chromium session opening every page and pressing Train,
  the server's and each worker's peak RSS, and the largest total of the whole process tree;
- cold start: seconds from process start to Home painted in Chromium, and whether torch was loaded.

    python benchmarks/bench_memory.py [--python /tmp/venv-cpu/bin/python] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

from _server import ROOT, app_server, chromium, maps_torch, status_kb, tree_pids, wait_painted

IMPORT_TORCH = "import resource, torch; print(torch.__version__, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
WORKER = """
import resource, sys
from cnn_core.data.config import DataConfig
from cnn_core.data.dataset import make_dataset
from cnn_core.nets.presets import network
from cnn_core.training.config import TrainConfig
from cnn_core.training.engine import fit
ds = make_dataset(DataConfig(val_fraction=0.2, test_fraction=0.0))
fit(network("simple_cnn", ds.input_shape, ds.num_classes), ds, TrainConfig(epochs=int(sys.argv[1])))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
PAGES = [("", "CNN Lab"), ("dataset", "Dataset"), ("convolution", "Convolution"), ("architecture", "Architecture"),
         ("evaluation", "Evaluation"), ("training", "Training")]  # fmt: skip


def run_python(python: str, code: str, *args: str) -> str:
    out = subprocess.run([python, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return out.stdout.strip()


def cold_start(python: str) -> dict:
    """Seconds from `streamlit run` to Home painted in a browser, and whether the server loaded torch."""
    with chromium() as browser:
        start = time.perf_counter()
        with app_server(python) as (url, proc, healthy):
            page = browser.new_page()
            page.goto(url)
            wait_painted(page, "CNN Lab")
            painted = time.perf_counter() - start
            torch_loaded = maps_torch(proc.pid)
    return {"healthy_s": round(healthy, 2), "home_painted_s": round(painted, 2), "torch_loaded_after_home": torch_loaded}


class TreeSampler(threading.Thread):
    """Samples the resident memory of a process tree every 0.2 s; keeps each pid's peak and the largest total."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peaks, self.total, self.done = pid, {}, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = tree_pids(self.pid)
            for p in pids:
                self.peaks[p] = max(self.peaks.get(p, 0), status_kb(p, "VmHWM"))
            self.total = max(self.total, sum(status_kb(p, "VmRSS") for p in pids))
            time.sleep(0.2)


def server_during_training(python: str, timeout_s: float = 900) -> dict:
    """Every page opened in one session, then the classic Train pressed: peak RSS of server and workers."""
    with chromium() as browser, app_server(python) as (url, proc, _):
        sampler = TreeSampler(proc.pid)
        sampler.start()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for path, title in PAGES:
            page.goto(f"{url}/{path}")
            wait_painted(page, title)
        idle_server = status_kb(proc.pid, "VmRSS")
        page.get_by_role("button", name="Train").first.click()
        page.get_by_text("This session's runs").first.wait_for(timeout=timeout_s * 1000)  # the run has finished
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')")
        time.sleep(1)
        sampler.done.set()
        sampler.join()
    workers = {p: kb for p, kb in sampler.peaks.items() if p != proc.pid}
    return {"server_idle_mb": round(idle_server / 1024), "server_peak_mb": round(sampler.peaks[proc.pid] / 1024),
            "worker_peak_mb": round(max(workers.values(), default=0) / 1024),
            "tree_peak_total_mb": round(sampler.total / 1024)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", default=[], help="another interpreter to measure (repeatable)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the worker measurement")
    parser.add_argument("--skip-server", action="store_true", help="only import, worker and cold start")
    args = parser.parse_args()
    for python in [sys.executable, *args.python]:
        version, torch_kb = run_python(python, IMPORT_TORCH).split()
        result = {"python": python, "torch": version, "import_torch_mb": round(int(torch_kb) / 1024),
                  "worker_classic_recipe_peak_mb": round(int(run_python(python, WORKER, str(args.epochs))) / 1024)}
        result.update(cold_start(python))
        if not args.skip_server:
            result.update(server_during_training(python))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
