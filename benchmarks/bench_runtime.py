"""The training runtime: app path against the CLI, watchers, page reruns while training, memory, Ray overhead.

    python benchmarks/bench_runtime.py                       # full size: the classic recipe, 0/1/5/10 watchers
    python benchmarks/bench_runtime.py --small               # a quick check that every part works
    python benchmarks/bench_runtime.py --ray-address 127.0.0.1:6379   # also Ray against the process pool

1. App path against CLI: the classic recipe (SimpleCNN, default shapes, 80/20, Adam, step schedule, batch 32,
   `--epochs`) through the executor as the server submits it (a warm worker process), against
   `python -m cnn_core train` (which now uses the same executor) and against `fit` in the process itself.
2. Watchers: a real Streamlit server; 0, 1, 5 and 10 Chromium sessions press Train on the Training page with
   the same configuration (so they join one run) and watch it live; the run's training time from the registry,
   and the CPU seconds of the server, the worker and the browsers meanwhile. The browsers run twice: at idle CPU
   priority (SCHED_IDLE, with the Playwright driver that clicks for them, and nice 19 on Chromium's autogroup: they
   use only what the server leaves, as browsers on the learners' own computers would) and at normal priority,
   competing for the server's cores.
3. Page reruns of Architecture and Dataset (AppTest, p50 and p95 over `--reruns`), idle and while a run trains.
4. Peak memory (VmHWM) of the Streamlit server and of its worker process during the watched runs.
5. Ray: the same small run through a warm RayExecutor and a warm LocalExecutor; wall time minus training time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _server import CHROMIUM, CHROMIUM_ARGS, app_server, idle_autogroups, tree_pids  # noqa: E402

from cnn_core.runs.registry import RunRegistry  # noqa: E402
from cnn_core.runs.resources import THREADS_VAR  # noqa: E402 - no torch


def classic_request(epochs: int, n_per_class: int = 250, seed: int = 0):
    from cnn_core.data.config import DataConfig
    from cnn_core.nets.presets import network
    from cnn_core.runs.request import TrainRequest
    from cnn_core.training.config import TrainConfig

    data = DataConfig(n_per_class=n_per_class, val_fraction=0.2, test_fraction=0.0)
    return TrainRequest(data, network("simple_cnn", (3, 32, 32), 4), TrainConfig(epochs=epochs, seed=seed))


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


# ---------------------------------------------------------------- 1. app path against the CLI


def app_executor():
    """A process pool sized as the app sizes its own (cnn_core.runs.resources.server_plan: workers below its priority)."""
    from cnn_core.runs.local import LocalExecutor
    from cnn_core.runs.resources import server_plan

    plan = server_plan()
    return LocalExecutor(plan.max_runs, plan.threads_per_run, plan.worker_nice)


def app_against_cli(epochs: int, n_per_class: int) -> None:
    from cnn_core.data.dataset import make_dataset
    from cnn_core.training.engine import fit

    print(f"\n1. The classic recipe, {epochs} epochs, {n_per_class} images per class")
    ex = app_executor()
    ex.submit(classic_request(1, 20, seed=99)).result()  # warm: the worker process is up, torch imported
    start = time.perf_counter()
    run = ex.submit(classic_request(epochs, n_per_class)).result()
    app_wall = time.perf_counter() - start
    worker_peak = peak_rss_mb(ex._slots[0].process.pid)
    ex.shutdown()
    print(f"   app path (executor, warm worker):  {app_wall:6.1f} s wall, {run.summary['train_seconds']:6.1f} s training "
          f"({ex.threads} thread(s) at nice {ex.nice}, the server's plan); worker peak {worker_peak:.0f} MB")
    cmd = [sys.executable, "-m", "cnn_core", "train", "--dataset", "shapes", "--arch", "simple_cnn",
           "--epochs", str(epochs), "--n-per-class", str(n_per_class), "--json"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    cli_wall = time.perf_counter() - start
    cli = json.loads(done.stdout)
    print(f"   CLI (python -m cnn_core train):    {cli_wall:6.1f} s wall, {cli['train_seconds']:6.1f} s training "
          f"(executor {cli['executor']}, every core)")
    req = classic_request(epochs, n_per_class)
    start = time.perf_counter()
    here = fit(req.spec, make_dataset(req.data_config), req.config, device="cpu")
    print(f"   fit in this process:               {time.perf_counter() - start:6.1f} s wall, "
          f"{here.summary['train_seconds']:6.1f} s training")
    print(f"   app path / CLI, wall: {app_wall / cli_wall:.2f}x; training time: "
          f"{run.summary['train_seconds'] / cli['train_seconds']:.2f}x (target: at most 1.25x)")


# ---------------------------------------------------------------- 2 and 4. watchers on a real server


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU time so far (user + system), from /proc."""
    seen = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seen[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return seen


def cpu_by_group(before: dict, after: dict, server: int) -> dict[str, float]:
    """CPU seconds spent between two `cpu_seconds` readings by the server, its workers and the browsers."""
    tree = set(tree_pids(server))
    groups = {"server": 0.0, "worker": 0.0, "browsers": 0.0}
    for pid, (name, seconds) in after.items():
        used = seconds - before.get(pid, (name, 0.0))[1]
        group = "server" if pid == server else "worker" if pid in tree else "browsers" if "chrom" in name else None
        if group:
            groups[group] += used
    return groups


def watched_run(watchers: int, epochs: int, timeout: float, browsers: str = "normal", threads: int = 0) -> dict:
    """One run of the Training page's default configuration with `watchers` sessions on the page (0: one
    session presses Train and leaves for the Home page). `browsers`: "normal" CPU priority, or "idle"."""
    cache = tempfile.mkdtemp(prefix="cnn-lab-bench-cache-")
    # the app's own local process pool, even where a Ray cluster is configured for the CLI
    env = {"CNN_LAB_CACHE_DIR": cache, "CNN_LAB_RAY_ADDRESS": "", THREADS_VAR: str(threads or "")}
    with app_server(env=env) as (url, server, _):
        with ThreadPoolExecutor(1) as learners:  # a thread of its own: its CPU priority is the learners'
            wall, cpu = learners.submit(watch, url, server.pid, cache, watchers, epochs, timeout, browsers).result()
        [entry] = RunRegistry(cache).listing()
        workers = children(server.pid)
        return dict(watchers=watchers, train_seconds=entry["train_seconds"], wall=wall, epochs=entry["epochs_run"],
                    cpu=cpu, server_mb=peak_rss_mb(server.pid),
                    worker_mb=max((peak_rss_mb(w) for w in workers), default=0))  # fmt: skip


def watch(url: str, server: int, cache: str, watchers: int, epochs: int, timeout: float, browsers: str):
    """The learners' side: Chromium sessions press Train and watch until the run is registered; (wall, CPU).

    With browsers="idle", this thread takes idle CPU priority (SCHED_IDLE) before starting Playwright, so the
    Playwright driver, Chromium and every process they start inherit it, and Chromium's autogroup (it starts in
    a session of its own) gets nice 19: they run only on CPU time that the server and its worker leave free,
    standing in for the learners' own computers, which is where browsers (and the hands that click) are on a
    real deployment. Without the autogroup's nice, 'idle' browsers took as much CPU as the server and worker
    together (60 CPU-s during a 52-second run with 5 watchers)."""
    from playwright.sync_api import sync_playwright

    if browsers == "idle":
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread only (Linux)
    registry = RunRegistry(cache)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if browsers == "idle":
            idle_autogroups(os.getpid())  # Chromium runs in a session (autogroup) of its own: see there
        pages = []
        for _ in range(max(watchers, 1)):
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{url}/training", timeout=120_000)
            page.get_by_role("slider", name="Epochs").wait_for(timeout=120_000)
            pages.append(page)
        for page in pages:
            if epochs:
                set_epochs(page, epochs)
        before = cpu_seconds()
        start = time.perf_counter()
        for page in pages:
            page.get_by_role("button", name=re.compile(r"Train$")).click()
        if watchers == 0:
            pages[0].wait_for_timeout(1500)  # the submission reaches the server
            pages[0].goto(f"{url}/", timeout=120_000)
        while not registry.listing() and time.perf_counter() - start < timeout:
            time.sleep(0.25)
        wall = time.perf_counter() - start
        cpu = cpu_by_group(before, cpu_seconds(), server)
        browser.close()
    return wall, cpu


def set_epochs(page, epochs: int) -> None:
    """Move the Epochs slider with the keyboard to `epochs`, one step per rerun (a key pressed during a rerun can
    be undone by it), and check that it got there: sessions that differ would not share one run."""
    slider = page.get_by_role("slider", name="Epochs")
    for _ in range(300):
        now = int(slider.input_value())
        if now == epochs:
            return
        slider.focus()
        page.keyboard.press("ArrowRight" if epochs > now else "ArrowLeft")
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
        page.wait_for_timeout(100)
    raise RuntimeError(f"the Epochs slider did not reach {epochs}")


def watchers_table(counts: list[int], epochs: int, priorities: list[str], threads: int = 0) -> None:
    from cnn_core.runs.resources import server_plan

    how = f"{threads} training thread(s), set by {THREADS_VAR}" if threads else \
        f"{server_plan().threads_per_run} training thread(s), the server's plan"
    print(f"\n2/4. The Training page's default run ({epochs or 'default'} epochs) with Chromium sessions watching it "
          f"({how})")
    for browsers in priorities:
        print(f"   browsers at {browsers} CPU priority on the server's own {os.cpu_count()} cores"
              + (" (standing in for the learners' computers)" if browsers == "idle" else " (the harshest case)"))
        rows = []
        for n in counts:
            r = watched_run(n, epochs, timeout=1800, browsers=browsers, threads=threads)
            rows.append(r)
            base, cpu = rows[0]["train_seconds"], r["cpu"]
            print(f"   {n:2d} watchers: {r['train_seconds']:6.1f} s training, {r['epochs']} epochs "
                  f"({r['train_seconds'] / base:.2f}x of "
                  f"{counts[0]} watchers), {r['wall']:5.1f} s to the registry; CPU seconds meanwhile: server "
                  f"{cpu['server']:4.1f}, worker {cpu['worker']:4.1f}, browsers {cpu['browsers']:5.1f}; peak memory: "
                  f"server {r['server_mb']:.0f} MB, worker {r['worker_mb']:.0f} MB")  # fmt: skip


# ---------------------------------------------------------------- 3. page reruns while a run trains


def rerun_times(page: str, reruns: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300).run()
    at.switch_page(page).run()
    at.run()
    times = []
    for _ in range(reruns):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    assert not at.exception, at.exception
    return times


def reruns_while_training(reruns: int, epochs: int, n_per_class: int) -> None:
    print(f"\n3. Page reruns, {reruns} each (AppTest, in this process), idle and while a run trains in a worker")
    ex = app_executor()
    ex.submit(classic_request(1, 20, seed=99)).result()
    for page in ("app_pages/architecture.py", "app_pages/dataset.py"):
        idle = rerun_times(page, reruns)
        handle = ex.submit(classic_request(max(epochs, 200), n_per_class, seed=len(page)))
        while handle.state != "running" or not handle.poll():
            time.sleep(0.05)
        busy = rerun_times(page, reruns)
        handle.stop()
        handle.wait()
        print(f"   {page:24s} idle p50 {1000 * statistics.median(idle):5.0f} ms, p95 {1000 * pct(idle, 0.95):5.0f} ms;"
              f" training p50 {1000 * statistics.median(busy):5.0f} ms, p95 {1000 * pct(busy, 0.95):5.0f} ms "
              f"({statistics.median(busy) / statistics.median(idle):.2f}x, {pct(busy, 0.95) / pct(idle, 0.95):.2f}x)")
    ex.shutdown()


# ---------------------------------------------------------------- 5. Ray against the process pool


def ray_overhead(address: str, repeats: int, epochs: int, n_per_class: int) -> None:
    from cnn_core.runs.local import LocalExecutor
    from cnn_core.runs.ray_executor import RayExecutor

    print(f"\n5. Overhead per run (wall minus training), {repeats} runs of {epochs} epoch(s), 2 threads each")
    for ex in (LocalExecutor(max_runs=1, threads=2), RayExecutor(address, threads=2)):
        ex.submit(classic_request(1, 20, seed=99)).result()  # warm
        overheads, walls = [], []
        for seed in range(repeats):
            start = time.perf_counter()
            run = ex.submit(classic_request(epochs, n_per_class, seed=seed)).result()
            walls.append(time.perf_counter() - start)
            overheads.append(walls[-1] - run.summary["train_seconds"])
        ex.shutdown()
        print(f"   {ex.name:5s}: wall median {statistics.median(walls):5.2f} s, overhead median "
              f"{statistics.median(overheads):5.2f} s (min {min(overheads):.2f}, max {max(overheads):.2f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="tiny sizes: 2 epochs, 40 images per class, 0/1/2 watchers")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the classic recipe (part 1)")
    p.add_argument("--watchers", default="0,1,5,10", help="comma-separated numbers of watching sessions")
    p.add_argument("--browsers", default="idle,normal",
                   help="CPU priorities of the watching browsers, comma-separated: idle, normal")
    p.add_argument("--threads", type=int, default=0,
                   help=f"torch threads of the watched run (sets {THREADS_VAR}; 0: the server's plan)")
    p.add_argument("--watch-epochs", type=int, default=0, help="epochs of the watched run (0: the page's default)")
    p.add_argument("--reruns", type=int, default=30)
    p.add_argument("--ray-address", default=os.environ.get("CNN_LAB_TEST_RAY_ADDRESS", ""))
    p.add_argument("--parts", default="1,2,3,5")
    args = p.parse_args()
    epochs, n_per_class, counts = args.epochs, 250, [int(n) for n in args.watchers.split(",")]
    if args.small:
        epochs, n_per_class, counts = 2, 40, [0, 1, 2]
        args.watch_epochs, args.reruns = args.watch_epochs or 2, min(args.reruns, 10)
    parts = set(args.parts.split(","))
    print(f"CPU cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} (other work disturbs every figure)")
    if "1" in parts:
        app_against_cli(epochs, n_per_class)
    if "2" in parts:
        watchers_table(counts, args.watch_epochs, args.browsers.split(","), args.threads)
    if "3" in parts:
        reruns_while_training(args.reruns, epochs, n_per_class)
    if "5" in parts:
        if args.ray_address:
            ray_overhead(args.ray_address, 3 if args.small else 10, 1, n_per_class)
        else:
            print("\n5. Ray: skipped (give --ray-address, or set CNN_LAB_TEST_RAY_ADDRESS)")


if __name__ == "__main__":
    main()
