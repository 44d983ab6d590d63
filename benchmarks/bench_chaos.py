"""A class while the server suffers: N students (Chromium) follow a lesson while training workers are killed at
random (kill -9, as the out-of-memory killer does) and the cache folder's disk fills once.

The server's cache folder is a small tmpfs of its own (mounting one needs root; without it the disk fill is
skipped and said so). Each student walks the pages, presses Train and waits for a model or a message; a student
whose run failed presses Train again, up to --retries times, as a learner would. Printed as one JSON object:

- sessions_with_exception: students who saw an exception box or a page error (must be 0), with messages;
- runs_left_running: students still waiting for a run at the end, neither a model nor a message (must be 0);
- runs_lost: trainings that students got a model from but that the run registry doesn't hold (must be 0);
- students_trained, train_presses, failed_presses (with the first few messages shown on the page);
- kills (busy and idle workers), disk_full_s, and the server's peak resident memory (and its workers').

    sudo python benchmarks/bench_chaos.py --students 4
    python benchmarks/bench_chaos.py --students 30 --kill-every 20 --epochs 10
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _server import CHROMIUM, CHROMIUM_ARGS, app_server, tree_pids
from bench_class import Student, class_arguments, settled
from bench_memory import TreeSampler

DONE, FAILED = "This session's runs", "Training failed"


def worker_pids(server: int) -> list[int]:
    """The server's training workers, found by their command line (`python -m cnn_core.runs.worker`)."""
    found = []
    for pid in tree_pids(server):
        with contextlib.suppress(OSError):
            if b"cnn_core.runs.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def busy(pid: int) -> bool:
    """Whether a worker is training: it has used CPU in the last 0.2 s (an idle one waits on its socket)."""
    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    try:
        before = ticks()
        time.sleep(0.2)
        return ticks() > before
    except OSError:
        return False


class Chaos(threading.Thread):
    """Kills a random worker of the server every `every` seconds (± half); fills the folder once at `fill_at`."""

    def __init__(self, server: int, every: float, folder: str | None, fill_at: float, full_for: float):
        super().__init__(daemon=True)
        self.server, self.every, self.folder, self.fill_at, self.full_for = server, every, folder, fill_at, full_for
        self.kills = {"busy": 0, "idle": 0}
        self.full_s = 0.0
        self.done = threading.Event()

    def fill(self) -> None:
        filler = Path(self.folder) / "filler.bin"
        start = time.perf_counter()
        with contextlib.suppress(OSError), open(filler, "wb") as f:  # until the disk is full: ENOSPC
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        self.done.wait(self.full_for)
        filler.unlink(missing_ok=True)
        self.full_s = round(time.perf_counter() - start, 1)

    def run(self) -> None:
        rng, start, filled = random.Random(0), time.perf_counter(), self.folder is None
        while not self.done.wait(self.every * rng.uniform(0.5, 1.5)):
            pids = worker_pids(self.server)
            if pids:
                pid = rng.choice(pids)
                kind = "busy" if busy(pid) else "idle"
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    self.kills[kind] += 1
            if not filled and time.perf_counter() - start >= self.fill_at:
                filled = True
                self.fill()


class ChaosStudent(Student):
    """A student who walks the pages, trains, and presses Train again after a failure (up to `retries` times)."""

    def __init__(self, *args, retries: int):
        super().__init__(*args)
        self.retries, self.presses, self.failures, self.waiting = retries, 0, [], False

    async def train(self, page) -> None:
        await self.visit(page, "Training", "training")
        for _ in range(1 + self.retries):
            self.step = "training"
            await page.get_by_role("button", name="Train", exact=True).click(timeout=self.timeout_ms)
            self.presses, self.waiting = self.presses + 1, True
            await page.get_by_text(FAILED).first.wait_for(state="detached", timeout=self.timeout_ms)  # the last one's
            outcome = page.get_by_text(DONE).first.or_(page.get_by_text(FAILED).first)
            await outcome.wait_for(timeout=self.timeout_ms)
            self.waiting = False
            await settled(page, self.timeout_ms / 1000)  # the page redraws with the outcome
            if await page.get_by_text(DONE).count():
                self.trained_at = time.perf_counter()
                return
            failed = page.get_by_text(FAILED)
            self.failures.append((await failed.first.inner_text())[:200] if await failed.count() else "(no message)")

    async def work(self, page) -> None:
        await self.train(page)
        if self.trained_at is not None:
            await self.visit(page, "Evaluation", "evaluation")


async def class_session(url: str, args, lesson: dict, chaos: Chaos) -> list[ChaosStudent]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await Student(browser, url, 0, lesson, False, args.timeout).run(walk_only=True)  # a warm server first
            students = [ChaosStudent(browser, url, i, lesson, args.own_every > 0 and i % args.own_every == 0,
                                     args.timeout, retries=args.retries) for i in range(1, args.students + 1)]  # fmt: skip
            chaos.start()
            await asyncio.gather(*(s.run() for s in students))
        finally:
            chaos.done.set()
            await browser.close()
    return students


@contextlib.contextmanager
def small_disk(size_mb: int):
    """A tmpfs of `size_mb` for the cache folder (root only), else a plain temporary folder and None."""
    folder = tempfile.mkdtemp(prefix="cnn-lab-chaos-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", folder],
                             capture_output=True).returncode == 0  # fmt: skip
    try:
        yield folder, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", folder], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def registered_seeds(folder: str) -> tuple[set[int], int]:
    """The seeds of the runs in the registry, and the seed a lesson link without `train_seed` trains with."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cnn_core.runs.registry import RunRegistry
    from cnn_core.training.config import TrainConfig

    return {entry["train_config"]["seed"] for entry in RunRegistry(folder).listing(limit=100_000)}, TrainConfig().seed


def main() -> None:
    parser = class_arguments(__doc__, students=10, own_every=2, epochs=8, n_per_class=60)
    parser.add_argument("--kill-every", type=float, default=30, help="seconds between two worker kills (± half)")
    parser.add_argument("--fill-at", type=float, default=40, help="seconds into the class when the disk fills")
    parser.add_argument("--full-for", type=float, default=15, help="seconds the disk stays full")
    parser.add_argument("--disk-mb", type=int, default=256, help="size of the cache folder's tmpfs")
    parser.add_argument("--retries", type=int, default=3, help="Train presses again after a failure, per student")
    args = parser.parse_args()
    lesson = {"n_per_class": args.n_per_class, "size": args.size, "epochs": args.epochs, "lr": 0.003}
    with small_disk(args.disk_mb) as (folder, mounted), app_server(env={"CNN_LAB_CACHE_DIR": folder}) as (url, proc, _):
        sampler = TreeSampler(proc.pid)
        sampler.start()
        chaos = Chaos(proc.pid, args.kill_every, folder if mounted else None, args.fill_at, args.full_for)
        students = asyncio.run(class_session(url, args, lesson, chaos))
        time.sleep(1)  # the last registration lands
        sampler.done.set()
        sampler.join()
        chaos.join(timeout=args.full_for + 5)
        seeds, lesson_seed = registered_seeds(folder)
    trained = [s for s in students if s.trained_at is not None]
    lost = len({100 + s.number if s.own_seed else lesson_seed for s in trained} - seeds)
    exceptions = [e for s in students for e in s.errors if "exception box" in e or "page error" in e]
    workers = {p: kb for p, kb in sampler.peaks.items() if p != proc.pid}
    print(json.dumps({
        "students": args.students, "sessions_with_exception": len({e.split(",")[0] for e in exceptions}),
        "exception_messages": exceptions[:5], "runs_left_running": sum(s.waiting for s in students),
        "runs_lost": lost, "students_trained": len(trained), "train_presses": sum(s.presses for s in students),
        "failed_presses": sum(len(s.failures) for s in students),
        "failure_messages": sorted({m for s in students for m in s.failures})[:5],
        "other_errors": [e for s in students for e in s.errors if e not in exceptions][:5],
        "kills": chaos.kills, "disk_full_s": chaos.full_s if mounted else "skipped (a tmpfs needs root)",
        "server_peak_mb": round(sampler.peaks.get(proc.pid, 0) / 1024),
        "worker_peak_mb": round(max(workers.values(), default=0) / 1024), "lesson": lesson, "cpus": os.cpu_count(),
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
