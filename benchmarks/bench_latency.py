"""Widget latency in Chromium: per interaction, the felt time, the server's time and the bytes sent.

A real `streamlit run` server, driven by Playwright in Debian's Chromium. For each interaction (a page's main
widget changed back and forth, a direct load of a page, the Evaluation page's first visit with a fresh model)
it reports, over `--repeat` changes:

- felt_ms p50/p95: from the change (a key pressed, a click, a navigation) until the page has settled: the
  server said the script finished (its `script_finished` message), no "Running…" widget or placeholder shows,
  every picture has loaded, and the page's DOM has not changed for QUIET_MS; the time is that of the last DOM
  change's (or picture load's) next frame;
- server_ms p50/p95: from the change until the `script_finished` message arrived (loopback: the script's run,
  its serialisation and the socket, no drawing);
- kb p50: the bytes of the websocket frames the browser received for the change (Playwright's `framereceived`);
  media_kb p50: those of the pictures it fetched over HTTP (st.image's `/media/` files, not in the websocket);
- cpu_ms p50: CPU time the server's process tree spent on it (utime + stime from /proc);
- browser_ms p50: CPU time of the page's renderer main thread (DevTools' Performance metrics in thread ticks:
  every task, Plotly's drawing included), with js_ms (JavaScript) and layout_ms (style and layout) of it: the
  browser's share, which a busy machine barely moves.

`--class N` runs N sessions at once instead (browsers at low priority, nice 19 on their autogroup, standing in
for the students' own computers), each changing one widget (`--interaction`) with a pause between changes;
it reports the felt p50/p95 under that load, the interactions served per second, and the server's CPU seconds
per interaction, whose inverse times the cores bounds a 2-core server's capacity.

    python benchmarks/bench_latency.py                          # every interaction, one session
    python benchmarks/bench_latency.py --only dataset --repeat 10
    python benchmarks/bench_latency.py --class 30 --interaction dataset.noise --changes 10
    python benchmarks/bench_latency.py --only architecture --repeat 3 --profile 15   # where the browser's time goes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from urllib.parse import urlencode

import _profile
from _server import CHROMIUM, CHROMIUM_ARGS, ROOT, app_server, idle_autogroups, nav_link, tree_pids
from bench_class import percentile

sys.path.insert(0, str(ROOT))

BUSY = "[data-testid='stStatusWidget'], [data-testid='stSkeleton']"
QUIET_MS = 400  # no DOM change for this long after the script finished: settled
LESSON = {"n_per_class": 40, "size": 32, "epochs": 1}  # the small model the Evaluation interactions train
# In the page, before Streamlit's own code: the time of every websocket message, and of the frame after the
# latest DOM change (performance.now(), ms since the navigation started).
WATCH_JS = """(() => {
  const lat = window.__lat = {messages: [], lastChange: performance.now()};
  const changed = () => requestAnimationFrame(() => { lat.lastChange = performance.now(); });
  new MutationObserver(changed).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('load', e => { if (e.target.tagName === 'IMG') changed(); }, true);  // a picture arrived
  const Native = window.WebSocket;
  class Watched extends Native {
    constructor(...args) {  // a new stream restarts the count, as the frames' list does
      super(...args); lat.messages = []; this.addEventListener('message', () => lat.messages.push(performance.now()));
    }
  }
  window.WebSocket = Watched;
})();"""
STATE_JS = (f"() => [performance.now(), window.__lat.lastChange, !!document.querySelector(\"{BUSY}\") "
            "|| [...document.images].some(i => !i.complete), window.__lat.messages.length]")


def cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) of a process tree, from /proc."""
    total = 0.0
    for pid in tree_pids(root):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return total


class Session:
    """One browser page on the app: the stream's frames as they come, and timed changes."""

    def __init__(self, page, server_pid: int, timeout_s: float = 120, profile: int = 0, profile_js: bool = False):
        self.page, self.server_pid, self.timeout_s = page, server_pid, timeout_s
        self.profile, self.profile_js = profile, profile_js  # --profile N rows of a trace per change; --profile-js
        page.set_default_timeout(timeout_s * 1000)  # every wait (a widget to focus, to click), not Playwright's 30 s
        self.frames: list[tuple[int, str]] = []  # (bytes, ForwardMsg type) of each frame received
        self.cdp = None  # a DevTools session once `watch_browser` ran: the renderer's own time per change
        self.media: list[int] = []  # bytes of each picture fetched (st.image serves them over HTTP)
        page.on("websocket", self._socket)
        page.on("response", self._response)

    async def watch_browser(self) -> None:
        self.cdp = await self.page.context.new_cdp_session(self.page)
        await self.cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        if self.profile:
            await _profile.enable(self.cdp, self.profile_js)

    async def _browser_ms(self) -> dict[str, float]:
        """The page's main thread so far (ms): all its tasks, the JavaScript of them, and style and layout."""
        if self.cdp is None:
            return {}
        got = {m["name"]: m["value"] for m in (await self.cdp.send("Performance.getMetrics"))["metrics"]}
        return {"browser_ms": 1000 * got["TaskDuration"], "js_ms": 1000 * got["ScriptDuration"],
                "layout_ms": 1000 * (got["LayoutDuration"] + got["RecalcStyleDuration"])}

    async def _response(self, response) -> None:
        if "/media/" in response.url and "/static/" not in response.url:  # st.image's files, not the app's fonts
            try:
                self.media.append(len(await response.body()))
            except Exception:  # noqa: BLE001 - Playwright's Error: the page moved on before the body was read
                self.media.append(0)

    def _socket(self, ws) -> None:
        if "_stcore/stream" in ws.url:
            self.frames = []  # a new stream (a navigation, a reconnection): numbered as the page counts its messages
            ws.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        data = payload if isinstance(payload, bytes) else payload.encode()
        try:
            kind = ForwardMsg.FromString(data).WhichOneof("type")
        except Exception:  # noqa: BLE001 - not a ForwardMsg: counted, never a start or a finish
            kind = ""
        self.frames.append((len(data), kind))

    async def timed(self, action, navigation: bool = False, new_run: bool = False) -> dict:
        """Do `action` (a coroutine function) and wait until the page settles: felt and server ms, kB, CPU ms,
        and once `watch_browser` ran, the renderer main thread's CPU ms (browser_ms; js_ms and layout_ms of it)."""
        page, cpu0, browser0 = self.page, cpu_seconds(self.server_pid), await self._browser_ms()
        if navigation:  # a new document counts from 0
            browser0 = dict.fromkeys(browser0, 0.0)
        first, media = 0 if navigation else len(self.frames), len(self.media)
        t0 = 0.0 if navigation else await page.evaluate("performance.now()")
        if self.profile and self.cdp is not None:
            await _profile.start(self.cdp, self.profile_js)
        await action()
        deadline, finished_at = time.perf_counter() + self.timeout_s, None
        while time.perf_counter() < deadline:
            now, last_change, busy, messages = await page.evaluate(STATE_JS)
            if finished_at is None:
                # new_run: the finish of a run that started after the action (a page switch starts one with its
                # `new_session` message), not that of a live view's rerun still under way when it came
                start = next((i for i, (_, k) in enumerate(self.frames) if k == "new_session" and i >= first), None)
                since = first if not new_run else len(self.frames) if start is None else start
                done = [i for i, (_, k) in enumerate(self.frames) if k == "script_finished" and i >= since]
                if done and done[0] < messages:
                    finished_at = (await page.evaluate("window.__lat.messages"))[done[0]]
            if finished_at is not None and not busy and now - last_change >= QUIET_MS:
                browser = {k: v - browser0[k] for k, v in (await self._browser_ms()).items()}
                if self.profile and self.cdp is not None:
                    print(await _profile.stop(self.cdp, self.profile, self.profile_js), flush=True)
                return {"felt_ms": max(last_change, finished_at) - t0, "server_ms": finished_at - t0,
                        "kb": sum(n for n, _ in self.frames[first:]) / 1024, "media_kb": sum(self.media[media:]) / 1024,
                        "cpu_ms": 1000 * (cpu_seconds(self.server_pid) - cpu0), **browser}  # fmt: skip
            await page.wait_for_timeout(25)
        raise TimeoutError(f"the page did not settle within {self.timeout_s:.0f} s")


async def goto(s: Session, url: str) -> dict:
    return await s.timed(lambda: s.page.goto(url, timeout=s.timeout_s * 1000), navigation=True)


async def arrow(s: Session, key: str, i: int) -> dict:
    """A slider one step right (even i) or back left."""
    thumb = s.page.locator(f".st-key-{key}").get_by_role("slider").first
    await thumb.focus()
    return await s.timed(lambda: thumb.press("ArrowRight" if i % 2 == 0 else "ArrowLeft"))


async def number(s: Session, key: str, value: int) -> dict:
    box = s.page.locator(f".st-key-{key} input").first

    async def enter():
        await box.fill(str(value))
        await box.press("Enter")

    return await s.timed(enter)


async def pick(s: Session, key: str, option: str) -> dict:
    """Open a selectbox's list, then time the choice: from the click on `option` (the change a person makes; the
    list's opening, 80-170 ms of the browser's time and Playwright's waits for it, came before it)."""
    await s.page.locator(f".st-key-{key}").get_by_role("combobox").first.click()  # drawn, not its placeholder
    choice = s.page.get_by_role("option", name=option, exact=True).first
    await choice.click(trial=True)  # Playwright's checks (shown, still, enabled) without clicking: not timed
    return await s.timed(lambda: choice.click(force=True))


async def radio(s: Session, key: str) -> dict:
    """Choose a radio's first option that is not checked (a click on the checked one would run nothing), and
    click again until the browser shows it checked (a click that lands while the radio is redrawn is lost)."""
    group = s.page.locator(f".st-key-{key}")
    await group.locator("input[type='radio']:checked").first.wait_for(state="attached")
    option = group.locator("label").filter(has=s.page.locator("input[type='radio']:not(:checked)")).first
    target = await option.inner_text()

    async def choose():
        for _ in range(20):
            await option.click()
            checked = group.locator("label").filter(has=s.page.locator("input[type='radio']:checked"))
            try:
                await checked.filter(has_text=target).first.wait_for(state="attached", timeout=500)
                return
            except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the click was lost, click again
                continue
        raise TimeoutError(f"the radio {key!r} never showed {target!r} checked")

    return await s.timed(choose)


async def open_expander(s: Session, title: str) -> None:
    await s.page.locator("[data-testid='stExpander'] summary").filter(has_text=title).first.click()


async def train(s: Session, url: str, seed: int) -> None:
    """Train a small model through the Training page (the lesson link's settings, a seed of its own)."""
    await goto(s, f"{url}/training?{urlencode({**LESSON, 'train_seed': seed})}")
    await s.page.get_by_role("button", name="Train", exact=True).click()
    await s.page.get_by_text("This session's runs").first.wait_for(timeout=s.timeout_s * 1000 * 5)
    await settle(s)  # the runs' table and curves drawn: their code's first load is the Training page's, not the next page's


async def settle(s: Session) -> None:
    """Until the page shows no "Running…" widget and its DOM has not changed for QUIET_MS."""
    deadline = time.perf_counter() + s.timeout_s
    while time.perf_counter() < deadline:
        now, last_change, busy, _ = await s.page.evaluate(STATE_JS)
        if not busy and now - last_change >= QUIET_MS:
            return
        await s.page.wait_for_timeout(25)
    raise TimeoutError(f"the page did not settle within {s.timeout_s:.0f} s")


async def nav(s: Session, path: str) -> dict:
    link = s.page.locator(nav_link(path)).first
    return await s.timed(link.click, new_run=True)


async def interactions(s: Session, url: str, only: str, repeat: int, first_visits: int):
    """(name, sample) pairs: each page's main widgets, changed `repeat` times."""
    def wanted(page: str) -> bool:
        return not only or page in only.split(",")

    if wanted("dataset"):
        for _ in range(repeat):
            yield "dataset.load", await goto(s, f"{url}/dataset")
        for i in range(repeat):
            yield "dataset.size", await arrow(s, "ds_size", i)
        for i in range(repeat):
            yield "dataset.noise", await arrow(s, "ds_noise", i)
        await open_expander(s, "Make it harder")
        for _ in range(repeat):
            yield "dataset.colour", await radio(s, "ds_color_mode")
        # opened and settled before its widget is timed (once the session's first Plotly chart, loading Plotly's code;
        # pictures now)
        yield "dataset.channels_tab", await s.timed(s.page.get_by_role("tab", name="Channels").click)
        for i in range(repeat):
            yield "dataset.channel_image", await number(s, "ds_channel_image", i + 1)
    if wanted("convolution"):
        from cnn_core.conv.kernels import PRESETS

        kernels = list(PRESETS)[:2]  # the page starts on the second one: the first change picks the first
        for _ in range(repeat):
            yield "convolution.load", await goto(s, f"{url}/convolution")
        for i in range(repeat):
            yield "convolution.kernel", await pick(s, "conv_kernel", kernels[i % 2])
        await radio(s, "conv_source")  # "Dataset image": its image number shows
        for i in range(repeat):
            yield "convolution.image", await number(s, "conv_index", i + 1)
    if wanted("architecture"):
        for _ in range(repeat):
            yield "architecture.load", await goto(s, f"{url}/architecture")
        from cnn_core.nets.presets import NETWORKS

        titles = [n.title for n in NETWORKS.values()][:2]
        for i in range(repeat):
            yield "architecture.preset", await pick(s, "arch_preset", titles[(i + 1) % 2])
        for i in range(repeat):
            yield "architecture.blocks", await arrow(s, "arch_num_blocks", i + 1)
    if wanted("training"):  # its settings, before any run (a live run's view is bench_runtime.py's)
        for _ in range(repeat):
            yield "training.load", await goto(s, f"{url}/training")
        for i in range(repeat):
            yield "training.learning_rate", await arrow(s, "tr_lr", i)
        for i in range(repeat):
            yield "training.epochs", await arrow(s, "tr_epochs", i)
        for i in range(repeat):
            yield "training.optimizer", await pick(s, "tr_optimizer", ("AdamW", "Adam")[i % 2])
    if wanted("evaluation"):
        for k in range(first_visits):
            await train(s, url, 500 + k)
            yield "evaluation.first_visit", await nav(s, "evaluation")
        for _ in range(repeat):  # a later visit in the same session (a direct load would start a new one)
            await nav(s, "dataset")
            yield "evaluation.revisit", await nav(s, "evaluation")
        for i in range(repeat):
            yield "evaluation.next_image", await number(s, "ev_image_pos", i + 1)


def summary(samples: dict[str, list[dict]]) -> dict:
    out = {}
    for name, rows in samples.items():
        felt, server = [r["felt_ms"] for r in rows], [r["server_ms"] for r in rows]
        out[name] = {"n": len(rows), "felt_ms_p50": round(statistics.median(felt)),
                     "felt_ms_p95": round(percentile(felt, 0.95)), "server_ms_p50": round(statistics.median(server)),
                     "server_ms_p95": round(percentile(server, 0.95)),
                     "kb_p50": round(statistics.median(r["kb"] for r in rows), 1),
                     "media_kb_p50": round(statistics.median(r.get("media_kb", 0) for r in rows), 1),
                     "cpu_ms_p50": round(statistics.median(r["cpu_ms"] for r in rows))}  # fmt: skip
        for key in ("browser_ms", "js_ms", "layout_ms"):  # the renderer's main thread, where measured
            if key in rows[0]:
                out[name][f"{key}_p50"] = round(statistics.median(r[key] for r in rows))
    return out


async def one_session(url: str, pid: int, args) -> dict:
    from playwright.async_api import async_playwright

    samples: dict[str, list[dict]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            await context.add_init_script(WATCH_JS)
            s = Session(await context.new_page(), pid, args.timeout, args.profile, args.profile_js)
            await s.watch_browser()
            await goto(s, f"{url}/dataset")  # warm: the first imports and the default dataset
            async for name, sample in interactions(s, url, args.only, args.repeat, args.first_visits):
                samples.setdefault(name, []).append(sample)
                print(name, {k: round(v, 1) for k, v in sample.items()}, flush=True)
        finally:
            await browser.close()
    return summary(samples)


async def student(browser, url: str, pid: int, args, rows: list[dict], number: int, loads: list[dict]) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    await context.add_init_script(WATCH_JS)
    s = Session(await context.new_page(), pid, args.timeout)
    page_name, key = args.interaction.split(".")
    loads.append(await goto(s, f"{url}/dataset"))  # page ready: the whole class opens the lesson at once
    rng = random.Random(number)
    for i in range(args.changes):
        await s.page.wait_for_timeout(rng.uniform(0, 2 * args.pause * 1000))
        if key not in ("noise", "size"):
            raise ValueError(f"unknown class interaction {args.interaction!r}; expected dataset.noise or dataset.size")
        rows.append(await arrow(s, f"ds_{key}", i))
        print(f"student {number}", {k: round(v, 1) for k, v in rows[-1].items()}, flush=True)  # partial results
    await context.close()


async def class_mode(url: str, pid: int, args) -> dict:
    from playwright.async_api import async_playwright

    rows: list[dict] = []
    loads: list[dict] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Chromium's autogroup at nice 19 (see _server.idle_autogroups). This driver stays at normal priority: at
        # SCHED_IDLE it never ran on a machine that other jobs kept busy, and it only clicks and reads the clocks.
        groups = idle_autogroups(os.getpid()) if args.browsers == "idle" else 0
        try:
            cpu0, start = cpu_seconds(pid), time.perf_counter()
            await asyncio.gather(*(student(browser, url, pid, args, rows, n, loads) for n in range(args.students)))
            wall, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu0
        finally:
            await browser.close()
    felt, server = [r["felt_ms"] for r in rows], [r["server_ms"] for r in rows]
    ready = [r["felt_ms"] for r in loads]
    per = cpu / max(len(rows), 1)  # includes each student's first load of the page
    return {"students": args.students, "interaction": args.interaction, "changes": len(rows),
            "browsers": args.browsers, "idle_groups": groups,
            "page_ready_ms_p50": round(statistics.median(ready)), "page_ready_ms_p95": round(percentile(ready, 0.95)),
            "felt_ms_p50": round(statistics.median(felt)), "felt_ms_p95": round(percentile(felt, 0.95)),
            "server_ms_p50": round(statistics.median(server)), "server_ms_p95": round(percentile(server, 0.95)),
            "interactions_per_s": round(len(rows) / wall, 2), "server_cpu_s_per_interaction": round(per, 3),
            "cpu_bound_capacity_per_s": round((os.cpu_count() or 1) / per, 1) if per else None,
            "wall_s": round(wall, 1), "cpus": os.cpu_count()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="changes per interaction (default 10)")
    parser.add_argument("--only", default="", help="pages, comma-separated: dataset,convolution,architecture,training,evaluation")
    parser.add_argument("--first-visits", type=int, default=3, help="models trained for Evaluation's first visit")
    parser.add_argument("--class", dest="students", type=int, default=0, help="N sessions at once (class mode)")
    parser.add_argument("--interaction", default="dataset.noise", help="class mode: dataset.noise or dataset.size")
    parser.add_argument("--changes", type=int, default=10, help="class mode: changes per session")
    parser.add_argument("--pause", type=float, default=1.0, help="class mode: mean seconds between changes")
    parser.add_argument("--browsers", choices=("idle", "normal"), default="idle",
                        help="class mode: Chromium at nice 19 (default; the students' own computers) or at normal priority")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="one session: after each change, the N kinds of work and scripts of most main-thread time "
                        "in the renderer's trace (benchmarks/_profile.py)")
    parser.add_argument("--profile-js", action="store_true",
                        help="with --profile: also a sampled CPU profile of the JavaScript, by script and function")
    parser.add_argument("--timeout", type=float, default=180, help="seconds one change may take")
    args = parser.parse_args()
    with app_server() as (url, proc, _):
        run = class_mode if args.students else one_session
        result = asyncio.run(run(url, proc.pid, args))
    print(json.dumps({"load_avg": os.getloadavg()[0], **result}), flush=True)


if __name__ == "__main__":
    main()
