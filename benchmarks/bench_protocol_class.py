"""A class on one server without browsers: N students speak Streamlit's websocket protocol (benchmarks/_protocol.py).

`bench_latency.py --class N` runs N Chromium sessions on the server's own two cores, and the browsers' drawing
(about 0.7 s of CPU per page each) starves the server it means to measure. Students' browsers run on their own
computers: here each student is a protocol client instead, which does what its browser would ask of the server
(the page's HTML and assets, the websocket, a `rerun_script` per change with every widget's value, the images its
page shows) and nothing of the drawing. All N open the lesson's Dataset page at once, then move the noise slider
`--changes` times with pauses (uniform, `--pause` s on average), then (`--flow`) click through Convolution,
Architecture and Training (no training). Before the class one student does the same alone (`alone`: the idle
figures, and a warm server). Printed as one JSON object, per class size:

- page_ready_ms p50/p95: from the first HTTP request until the run's `script_finished` and its images arrived
  (server side: no drawing); page_ready_server_ms: until `script_finished` only;
- change_ms p50/p95: from the slider's `rerun_script` until `script_finished` and the new images;
  changes_finished: the changes whose run finished successfully; images_changed: the changes whose page showed
  other images than before (a change of the noise must change the gallery);
- visit_ms per page: a navigation link's click until its run finished (the lesson flow);
- interactions_per_s (opens, changes and visits); server_cores_used: the server tree's CPU seconds over the wall
  time (its scripts run as threads of one Python process, which share one GIL: near 1.0 of 2 cores while the
  class waits says the process, not the machine, is the limit); server_cpu_s_per_interaction: utime + stime of
  the server's process tree over all interactions; server_cpu_s_per_change_with_opens: bench_latency's
  definition (all CPU over the changes); driver_cpu_s: this process's own CPU (the clients share the machine);
- tree_peak_mb: the largest resident total of the server's process tree (2.7 GB on Community Cloud);
- errors: exception elements, failed HTTP requests, steps that raised or timed out, runs not finished (must be 0).

    python benchmarks/bench_protocol_class.py --students 30 60 100
    python benchmarks/bench_protocol_class.py --students 2 --changes 2 --no-flow --no-alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import time
from urllib.parse import urlencode

from _protocol import Student
from _server import app_server
from bench_class import percentile
from bench_latency import cpu_seconds
from bench_memory import TreeSampler

LESSON = {"n_per_class": 100, "size": 32, "epochs": 3, "lr": 0.003}  # bench_class.py's lesson link
FLOW = ("convolution", "architecture", "training")  # after the Dataset page the link opens
NOISE = "ds_noise"


class Record:
    """What one student saw: timed steps by kind, errors, and whether each change changed the images."""

    def __init__(self, number: int, server_pid: int | None = None):
        self.number, self.server_pid = number, server_pid  # a pid: each step's server CPU too (a lone student)
        self.steps: dict[str, list[dict]] = {}
        self.errors: list[str] = []
        self.images_changed: list[bool] = []

    async def step(self, kind: str, action) -> None:
        """Run `action` (a coroutine) and keep its sample."""
        cpu0 = cpu_seconds(self.server_pid) if self.server_pid else 0.0
        sample = await action
        if self.server_pid:
            sample["cpu_ms"] = 1000 * (cpu_seconds(self.server_pid) - cpu0)
        self.add(kind, sample)

    def add(self, kind: str, sample: dict) -> None:
        self.steps.setdefault(kind, []).append(sample)
        if sample["status"] != 0:  # a run not finished successfully (a compile error)
            self.errors.append(f"student {self.number}, {kind}: the run ended with status {sample['status']}")


async def walk(url: str, number: int, args, record: Record) -> None:
    """One student: open the lesson, move the noise slider, then (args.flow) visit the lesson's pages."""
    rng, student, step = random.Random(number), Student(url, args.timeout), "opening the lesson"
    try:
        await record.step("open", student.open("dataset", lesson_query(args), args.asset_list))
        for i in range(args.changes):
            await asyncio.sleep(rng.uniform(0, 2 * args.pause))
            step, before = f"change {i + 1}", student.images()
            await record.step("change", student.change_slider(NOISE, 1 if i % 2 == 0 else -1))
            record.images_changed.append(bool(before) and student.images() != before)
        for page in FLOW if args.flow else ():
            await asyncio.sleep(rng.uniform(0, 2 * args.pause))
            step = f"visiting {page}"
            await record.step(f"visit.{page}", student.visit(page))
    except Exception as exc:  # a timeout, a closed socket, a widget missing: the step failed
        record.errors.append(f"student {number}, {step}: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        record.errors += [f"student {number}: exception element: {e}" for e in student.exceptions]
        record.errors += [f"student {number}: {e}" for e in student.http_errors]
        if student.unmapped:
            record.errors.append(f"student {number}: widgets of unknown kind {sorted(student.unmapped)} not sent")
        await student.close()


def lesson_query(args) -> str:
    return "" if args.plain else urlencode(LESSON)


def chromium_assets(url: str, query: str) -> list[str]:
    """The static files a cold Chromium fetches to show the Dataset page: the HTML's and the chunks its elements
    load later (an image, a slider…), which no HTML names."""
    from _server import chromium, wait_painted

    paths: list[str] = []
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.on("requestfinished", lambda r: paths.append(r.url.removeprefix(url)))
        page.goto(f"{url}/dataset?{query}")
        wait_painted(page, "Dataset")
        page.wait_for_timeout(2000)  # the last chunks
    return [p for p in paths if p.startswith("/static/") or p == "/favicon.png"]


def stats(samples: list[dict], key: str) -> dict:
    values = [s[key] for s in samples]
    return {"p50": round(statistics.median(values)), "p95": round(percentile(values, 0.95))} if values else {}


def summary(records: list[Record], wall: float, cpu: float, driver_cpu: float) -> dict:
    steps: dict[str, list[dict]] = {}
    for r in records:
        for kind, samples in r.steps.items():
            steps.setdefault(kind, []).extend(samples)
    opens, changes = steps.get("open", []), steps.get("change", [])
    interactions = sum(len(s) for s in steps.values())
    errors = [e for r in records for e in r.errors]
    changed = [c for r in records for c in r.images_changed]
    return {
        "students": len(records), "opens": len(opens), "changes": len(changes), "interactions": interactions,
        "page_ready_ms": stats(opens, "ms"), "page_ready_server_ms": stats(opens, "server_ms"),
        "change_ms": stats(changes, "ms"), "change_server_ms": stats(changes, "server_ms"),
        "visit_ms": {k.split(".", 1)[1]: stats(v, "ms") for k, v in steps.items() if k.startswith("visit.")},
        **({"change_cpu_ms": stats(changes, "cpu_ms"), "open_cpu_ms": stats(opens, "cpu_ms")}
           if changes and "cpu_ms" in changes[0] else {}),  # a lone student's: each step's own server CPU
        "change_kb_p50": round(statistics.median(s["kb"] for s in changes), 1) if changes else None,
        "open_media_p50": statistics.median(s["media"] for s in opens) if opens else None,
        "open_images_p50": statistics.median(s["images"] for s in opens) if opens else None,
        "changes_finished": sum(s["status"] == 0 for s in changes), "images_changed": sum(changed),
        "wall_s": round(wall, 1),
        "interactions_per_s": round(interactions / wall, 2),
        "server_cpu_s": round(cpu, 2), "server_cores_used": round(cpu / wall, 2),
        "server_cpu_s_per_interaction": round(cpu / max(interactions, 1), 3),
        "server_cpu_s_per_change_with_opens": round(cpu / len(changes), 3) if changes else None,
        "driver_cpu_s": round(driver_cpu, 2), "exception_elements": sum(s["exceptions"] for v in steps.values() for s in v),
        "errors": len(errors), "error_messages": errors[:5],
    }  # fmt: skip


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def class_run(url: str, pid: int, students: int, args) -> dict:
    records = [Record(n, pid if students == 1 else None) for n in range(students)]
    cpu0, driver0, start = cpu_seconds(pid), own_cpu(), time.perf_counter()
    await asyncio.gather(*(walk(url, n, args, r) for n, r in zip(range(students), records)))
    return summary(records, time.perf_counter() - start, cpu_seconds(pid) - cpu0, own_cpu() - driver0)


def one_class(students: int, args) -> dict:
    """A fresh server, the one student alone (unless --no-alone), then the class; the tree's peak memory."""
    with app_server() as (url, proc, _):
        args.asset_list = {"chromium": chromium_assets(url, lesson_query(args)) if args.assets == "chromium" else None,
                           "html": None, "none": []}[args.assets]  # fmt: skip
        sampler = TreeSampler(proc.pid)
        sampler.start()
        alone = None if args.no_alone else asyncio.run(class_run(url, proc.pid, 1, args))
        result = asyncio.run(class_run(url, proc.pid, students, args))
        sampler.done.set()
        sampler.join()
    assets = len(args.asset_list) if args.asset_list is not None else "those the HTML names"
    peak_mb = round(sampler.peaks.get(proc.pid, 0) / 1024)
    return {**result, "alone": alone, "static_files_per_open": assets, "server_peak_mb": peak_mb,
            "tree_peak_mb": round(sampler.total / 1024)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[30], help="class sizes, each on a fresh server")
    parser.add_argument("--changes", type=int, default=10, help="noise changes per student (default 10)")
    parser.add_argument("--pause", type=float, default=1.0, help="mean seconds between a student's steps")
    parser.add_argument("--no-flow", dest="flow", action="store_false", help="no visits to the lesson's other pages")
    parser.add_argument("--no-alone", action="store_true", help="no lone student first (the class meets a cold server)")
    parser.add_argument("--plain", action="store_true",
                        help="open /dataset without the lesson's query, as bench_latency.py does (to compare)")  # fmt: skip
    parser.add_argument("--assets", choices=("chromium", "html", "none"), default="chromium",
                        help="static files each student fetches on opening: those a cold Chromium fetched for the page "
                        "(learnt once per server, before the class), only those the page's HTML names, or none (a "
                        "browser that has them cached)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=300, help="seconds one step may take")
    args = parser.parse_args()
    load = os.getloadavg()
    classes = []
    for n in args.students:
        classes.append(one_class(n, args))
        print(json.dumps(classes[-1]), file=sys.stderr, flush=True)  # each class size's figures as they come
    print(json.dumps({"load_avg_before": [round(x, 2) for x in load], "load_avg_after": round(os.getloadavg()[0], 2),
                      "cpus": os.cpu_count(), "lesson": None if args.plain else LESSON, "changes_per_student": args.changes,
                      "pause_s": args.pause, "flow": list(FLOW) if args.flow else [], "classes": classes}),
          flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
