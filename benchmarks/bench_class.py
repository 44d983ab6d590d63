"""A class on one server: N students (Playwright contexts in Debian's Chromium) follow a lesson link at once.

Each student opens the lesson link, visits every page, changes a widget, presses Train (most with the lesson's
settings, every `--own-every`-th with a seed of their own), waits for the result and opens Evaluation. Before
the class, one student walks the pages alone for the idle figures. Printed as one JSON object:

- errors: exception boxes and failed steps (must be 0), with the first few messages;
- page-ready latency, p50 and p95, idle (one student) and under load (the class): seconds from a click on a
  page's link (or opening the link) until the page's title shows and the page goes quiet (no "Running…" widget,
  no placeholder left) for good;
- all_trained_s: seconds from the start of the class until every student has a trained model;
- memory: the server's and the workers' peak resident memory, and the largest total of the whole process tree
  (the ceiling on Streamlit Community Cloud is 2.7 GB);
- trainings_run: runs the server actually trained (identical settings share one run).

    python benchmarks/bench_class.py                 # 30 students
    python benchmarks/bench_class.py --students 4 --epochs 1 --n-per-class 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlencode

from _server import CHROMIUM, CHROMIUM_ARGS, ROOT, app_server, nav_link, tree_pids
from bench_memory import TreeSampler

PAGES = [("Dataset", "dataset"), ("Convolution", "convolution"), ("Architecture", "architecture"),
         ("Training", "training"), ("Class board", "board"), ("Home", "")]  # fmt: skip
BUSY = "[data-testid='stStatusWidget'], [data-testid='stSkeleton']"  # the script runs; elements not drawn yet
QUIET_S = 1.0  # a page is ready when it has been quiet this long; it was ready when the quiet began
EXCEPTION = "[data-testid='stException']"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


async def settled(page, timeout_s: float) -> float:
    """When the page went quiet (no "Running…" widget, no placeholder) for good, as time.perf_counter()."""
    deadline, quiet_since = time.perf_counter() + timeout_s, None
    while time.perf_counter() < deadline:
        busy = await page.locator(BUSY).count()
        now = time.perf_counter()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= QUIET_S:
            return quiet_since
        await page.wait_for_timeout(100)
    raise TimeoutError(f"the page was still busy after {timeout_s:.0f} s")


class Student:
    """One browser context walking through the lesson; records page-ready times and errors."""

    def __init__(self, browser, url: str, number: int, lesson: dict, own_seed: bool, timeout_s: float):
        self.browser, self.url, self.number, self.lesson = browser, url, number, lesson
        self.own_seed, self.timeout_ms = own_seed, timeout_s * 1000
        self.ready: list[float] = []
        self.errors: list[str] = []
        self.trained_at: float | None = None
        self.step = "starting"

    async def ready_after(self, page, title: str, action) -> None:
        self.step = f"opening {title}"
        start = time.perf_counter()
        await action()
        await page.get_by_role("heading", name=title).first.wait_for(timeout=self.timeout_ms)
        self.ready.append(await settled(page, self.timeout_ms / 1000) - start)
        boxes = await page.locator(EXCEPTION).count()
        if boxes:
            text = (await page.locator(EXCEPTION).first.inner_text())[:300]
            self.errors.append(f"student {self.number}, {title}: exception box: {text}")

    async def visit(self, page, label: str, path: str) -> None:
        title = "CNN Lab" if path == "" else label
        link = page.locator(nav_link(path)).first
        await self.ready_after(page, title, link.click)

    async def run(self, lesson_page: str = "dataset", walk_only: bool = False) -> None:
        context = await self.browser.new_context(viewport={"width": 1400, "height": 900})
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"student {self.number}: page error: {exc}"))
        try:
            query = urlencode({**self.lesson, **({"train_seed": 100 + self.number} if self.own_seed else {})}, safe=",")
            link = f"{self.url}/{lesson_page}?{query}"
            await self.ready_after(page, "Dataset", lambda: page.goto(link, timeout=self.timeout_ms))
            for label, path in PAGES:
                await self.visit(page, label, path)
            if not walk_only:
                await self.work(page)
        except Exception as exc:  # a timeout or a missing element: the step failed
            self.errors.append(f"student {self.number}, {self.step}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        finally:
            await context.close()

    async def work(self, page) -> None:
        """After the walk: change a widget, train, open Evaluation."""
        await self.visit(page, "Dataset", "dataset")
        self.step = "changing a widget"
        await page.get_by_role("tab", name="Channels").click()  # a widget that leaves the lesson alone
        box = page.locator(".st-key-ds_channel_image input")
        await box.fill(str(self.number % 50))
        await box.press("Enter")
        await settled(page, self.timeout_ms / 1000)
        await self.visit(page, "Training", "training")
        self.step = "training"
        await page.get_by_role("button", name="Train", exact=True).click()
        await page.get_by_text("This session's runs").first.wait_for(timeout=self.timeout_ms)
        self.trained_at = time.perf_counter()
        await self.visit(page, "Evaluation", "evaluation")


async def class_session(url: str, args, lesson: dict) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            alone = Student(browser, url, 0, lesson, False, args.timeout)
            if not args.no_idle:
                await alone.run(walk_only=True)  # the idle figures (and a warm server: first imports done)
            students = [Student(browser, url, i, lesson, args.own_every > 0 and i % args.own_every == 0, args.timeout)
                        for i in range(1, args.students + 1)]  # fmt: skip
            start = time.perf_counter()
            await asyncio.gather(*(s.run() for s in students))
        finally:
            await browser.close()
    trained = [s.trained_at - start for s in students if s.trained_at is not None]
    loaded = [t for s in students for t in s.ready]
    errors = [e for s in [alone, *students] for e in s.errors]
    return {
        "students": args.students, "own_seed_students": sum(s.own_seed for s in students),
        "errors": len(errors), "error_messages": errors[:5],
        "ready_idle_p50_s": percentile(alone.ready, 0.5), "ready_idle_p95_s": percentile(alone.ready, 0.95),
        "ready_load_p50_s": percentile(loaded, 0.5), "ready_load_p95_s": percentile(loaded, 0.95),
        "ready_load_mean_s": round(statistics.mean(loaded), 3) if loaded else None,
        "students_trained": len(trained), "all_trained_s": round(max(trained), 1) if len(trained) == len(students) else None,
    }  # fmt: skip


def trainings_run(folder: str) -> int:
    """Runs the server registered: each one was trained (a cached or joined request registers nothing new)."""
    sys.path.insert(0, str(ROOT))
    from cnn_core.runs.registry import RunRegistry

    return len(RunRegistry(folder).listing(limit=100_000))


def class_arguments(doc: str, students: int, own_every: int, epochs: int, n_per_class: int) -> argparse.ArgumentParser:
    """The options of a class benchmark, with its defaults."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--students", type=int, default=students, help=f"browser sessions at once (default {students})")
    parser.add_argument("--own-every", type=int, default=own_every,
                        help="every k-th student trains with a seed of their own; 0: none")
    parser.add_argument("--epochs", type=int, default=epochs, help="the lesson's epochs")
    parser.add_argument("--n-per-class", type=int, default=n_per_class, help="the lesson's images per class")
    parser.add_argument("--size", type=int, default=32, help="the lesson's image size")
    parser.add_argument("--timeout", type=float, default=900, help="seconds any one step may take")
    return parser


def main() -> None:
    parser = class_arguments(__doc__, students=30, own_every=5, epochs=3, n_per_class=100)
    parser.add_argument("--no-idle", action="store_true",
                        help="skip the one student's walk before the class (no idle figures; the class meets a cold server)")
    args = parser.parse_args()
    lesson = {"n_per_class": args.n_per_class, "size": args.size, "epochs": args.epochs, "lr": 0.003}
    folder = tempfile.mkdtemp(prefix="cnn-lab-class-")
    with app_server(env={"CNN_LAB_CACHE_DIR": folder}) as (url, proc, _):
        sampler = TreeSampler(proc.pid)
        sampler.start()
        result = asyncio.run(class_session(url, args, lesson))
        time.sleep(1)  # the last registration lands
        sampler.done.set()
        sampler.join()
        alive = tree_pids(proc.pid)
    workers = {p: kb for p, kb in sampler.peaks.items() if p != proc.pid}
    result.update({
        "lesson": lesson, "server_peak_mb": round(sampler.peaks.get(proc.pid, 0) / 1024),
        "workers": len(workers), "worker_peak_mb": round(max(workers.values(), default=0) / 1024),
        "workers_peak_sum_mb": round(sum(workers.values()) / 1024), "tree_peak_total_mb": round(sampler.total / 1024),
        "processes_at_end": len(alive), "trainings_run": trainings_run(folder), "cpus": os.cpu_count(),
    })  # fmt: skip
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
