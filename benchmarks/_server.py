"""Start the app as a user would (`streamlit run`) on a free loopback port, and drive it in Chromium."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip

NAV = "[class*='st-key-lesson_nav']"  # the router's navigation: a page link per page, each carrying the lesson


def nav_link(path: str) -> str:
    """The navigation's link to a page by its URL path ("" for Home), whatever lesson its query carries."""
    return f"{NAV} :is(a[href='{path}'], a[href^='{path}?'])"  # hrefs are relative to the app's root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(python: str = sys.executable, env: dict | None = None, timeout: float = 120):
    """(url, process, seconds until healthy) of a fresh server; stopped on exit."""
    with app_servers(1, python, env, timeout) as servers:
        yield servers[0]


@contextlib.contextmanager
def app_servers(count: int, python: str = sys.executable, env: dict | None = None, timeout: float = 120):
    """`count` fresh servers started at once, each on its own port with its own cache folder: a list of
    (url, process, seconds until healthy); all stopped on exit."""
    start, procs = time.perf_counter(), []
    try:
        for _ in range(count):
            port = free_port()
            server_env = {**os.environ, "CNN_LAB_CACHE_DIR": tempfile.mkdtemp(prefix="cnn-lab-bench-"), **(env or {})}
            proc = subprocess.Popen([python, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                                     "--server.headless", "true", "--server.address", "127.0.0.1"],
                                    cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            procs.append((f"http://127.0.0.1:{port}", proc))
        yield [(url, proc, _healthy(url, proc, start, timeout)) for url, proc in procs]
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _healthy(url: str, proc: subprocess.Popen, start: float, timeout: float) -> float:
    """Seconds from `start` until the server answers its health check; RuntimeError if it never does."""
    while True:
        if time.perf_counter() - start > timeout or proc.poll() is not None:
            raise RuntimeError(f"the server at {url} did not start")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.1)


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_painted(page, title: str, timeout_ms: int = 120_000) -> None:
    """Until the page's title heading shows and Streamlit has stopped running the script."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout_ms)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def tree_pids(pid: int) -> list[int]:
    """The process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def status_kb(pid: int, field: str) -> int:
    """A field of /proc/PID/status in kB (VmRSS now, VmHWM the peak); 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def maps_torch(pid: int) -> bool:
    """Whether the process has loaded PyTorch's library."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def idle_autogroups(root: int, name_part: str = "chrom") -> int:
    """Give the autogroups of `root`'s descendant processes named like `name_part` the lowest weight (nice 19).

    Where the kernel groups processes by session (/proc/sys/kernel/sched_autogroup_enabled = 1, as here), a
    browser that starts in a session of its own (Playwright's driver starts Chromium detached) is scheduled as
    one group against the server's group, at equal weight: its own SCHED_IDLE then only orders it within that
    group, and the 'idle' browsers took a full share of the cores. Nice 19 on its group makes it yield (a weight
    of 15 against 1024). Returns how many groups were set; 0 where autogroups are off or absent."""
    groups = set()
    for pid in tree_pids(root):
        try:
            if name_part not in Path(f"/proc/{pid}/comm").read_text():
                continue
            group = Path(f"/proc/{pid}/autogroup").read_text().split()[0]
            if group not in groups:
                Path(f"/proc/{pid}/autogroup").write_text("19")
                groups.add(group)
        except OSError:
            continue
    return len(groups)
