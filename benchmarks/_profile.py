"""Where the page's renderer spends its time during one interaction, from the DevTools protocol (bench_latency.py
--profile): a trace of the renderer's main thread (thread time, which other processes on a busy machine barely
move) by kind of work (script, compile, style, layout, paint, garbage collection) and script, and a sampled CPU
profile of its JavaScript by script and function (wall time: proportions, not durations, under load)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

# Timeline events (the Performance panel's) and V8's compile and garbage-collection events.
CATEGORIES = ("devtools.timeline,disabled-by-default-devtools.timeline,v8,v8.execute,"
              "disabled-by-default-v8.compile,blink.user_timing")  # fmt: skip
SCRIPT_EVENTS = {"EvaluateScript", "v8.compile", "v8.compileModule", "v8.evaluateModule", "FunctionCall",
                 "v8.produceModuleCache", "v8.compileLazy", "V8.CompileCode", "V8.ParseFunction"}  # fmt: skip
SAMPLING_US = 500  # the CPU profile's interval


async def enable(cdp, js: bool) -> None:
    if js:
        await cdp.send("Profiler.enable")
        await cdp.send("Profiler.setSamplingInterval", {"interval": SAMPLING_US})


async def start(cdp, js: bool) -> None:
    """Trace the renderer; with `js`, sample its JavaScript too (the sampler costs the page's main thread 100-300 ms
    a change and makes V8 compile more (source positions): the trace's totals are then inflated)."""
    await cdp.send("Tracing.start", {"categories": CATEGORIES, "transferMode": "ReturnAsStream"})
    if js:
        await cdp.send("Profiler.start")


async def stop(cdp, top: int, js: bool) -> str:
    """The trace's (and with `js` the CPU profile's) summaries since `start`, the `top` rows of each."""
    profile = (await cdp.send("Profiler.stop"))["profile"] if js else None
    done = asyncio.get_running_loop().create_future()
    cdp.once("Tracing.tracingComplete", lambda event: done.set_result(event["stream"]))
    await cdp.send("Tracing.end")
    stream, chunks = await done, []
    while True:
        part = await cdp.send("IO.read", {"handle": stream})
        chunks.append(part["data"])
        if part.get("eof"):
            break
    await cdp.send("IO.close", {"handle": stream})
    events = json.loads("".join(chunks))
    events = events["traceEvents"] if isinstance(events, dict) else events
    return trace_text(events, top) + ("\n" + profile_text(profile, top) if profile else "")


def _rows(table: dict[str, float], top: int) -> str:
    best = sorted(table.items(), key=lambda kv: -kv[1])[:top]
    return "\n".join(f"    {ms:8.1f} ms  {name}" for name, ms in best)


def _script(event: dict) -> str:
    data = event.get("args", {}).get("data", {}) or {}
    url = data.get("url") or event.get("args", {}).get("fileName") or ""
    return url.rsplit("/", 1)[-1] or "(inline)"


def trace_text(events: list[dict], top: int) -> str:
    """Self thread time (ms) on the renderer's main thread(s): by event name, and script and compile events by
    script; the main thread's busy time is the sum of its top-level tasks."""
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    spans = sorted((e for e in events if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in main
                    and "tdur" in e), key=lambda e: (e["pid"], e["tid"], e["ts"], -e["dur"]))  # fmt: skip
    by_name: dict[str, float] = defaultdict(float)
    by_script: dict[str, float] = defaultdict(float)
    busy, stack = 0.0, []  # (end ts, event, children's thread time)
    for e in spans:
        while stack and (stack[-1][1]["pid"], stack[-1][1]["tid"]) == (e["pid"], e["tid"]) and \
                e["ts"] >= stack[-1][0]:
            _close(stack.pop(), stack, by_name, by_script)
        if stack and (stack[-1][1]["pid"], stack[-1][1]["tid"]) != (e["pid"], e["tid"]):
            while stack:
                _close(stack.pop(), stack, by_name, by_script)
        if not stack:
            busy += e["tdur"] / 1000
        stack.append([e["ts"] + e["dur"], e, 0.0])
    while stack:
        _close(stack.pop(), stack, by_name, by_script)
    return (f"  renderer main thread (trace, thread time): {busy:.1f} ms busy; self time by event:\n"
            f"{_rows(by_name, top)}\n  script and compile events by script:\n{_rows(by_script, top)}")


def _close(entry: list, stack: list, by_name: dict, by_script: dict) -> None:
    _, event, children = entry
    own = max(event["tdur"] - children, 0) / 1000
    by_name[event["name"]] += own
    if event["name"] in SCRIPT_EVENTS:
        by_script[f"{_script(event)} ({event['name']})"] += own
    if stack:
        stack[-1][2] += event["tdur"]


def profile_text(profile: dict, top: int) -> str:
    """A V8 CPU profile's self time (ms, sampled wall time) by script and by function."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    by_script: dict[str, float] = defaultdict(float)
    by_function: dict[str, float] = defaultdict(float)
    for node, delta in zip(profile["samples"], profile["timeDeltas"]):
        frame = nodes[node]
        if frame["functionName"] == "(idle)":
            continue
        script = frame["url"].rsplit("/", 1)[-1] or frame["functionName"]  # (program), (garbage collector)
        by_script[script] += delta / 1000
        by_function[f"{frame['functionName'] or '(anonymous)'} {script}:{frame['lineNumber'] + 1}"] += delta / 1000
    return (f"  JavaScript (CPU profile, sampled wall time) by script:\n{_rows(by_script, top)}\n"
            f"  by function:\n{_rows(by_function, top)}")
