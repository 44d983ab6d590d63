"""Install size of requirements.txt and the memory that importing torch and torchvision takes.

    python benchmarks/bench_install.py

Size: the files that pip recorded for every distribution in requirements.txt's dependency closure,
as installed in this interpreter (so it reflects the torch build installed here: a CUDA build pulls
the NVIDIA libraries, a CPU-only build does not). Memory: resident set size (RSS) of a fresh
interpreter before and after each import, read from /proc (Linux).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirement names need, transitively (extras and markers that don't apply skipped)."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        name = re.split(r"[\s<>=!~;\[]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            marker = req.split(";", 1)[1] if ";" in req else ""
            if marker and not _marker_holds(marker):
                continue
            todo.append(req)
    return seen


def _marker_holds(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker).evaluate()


def installed_bytes(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for f in dist.files or []:
        path = Path(dist.locate_file(f))
        if path.is_file():
            total += path.stat().st_size
    return total


def rss_after(code: str) -> tuple[int, int]:
    """(RSS in bytes before, after) running `code` in a fresh interpreter."""
    probe = ("import re\n"
             "def rss(): return int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) * 1024\n"
             f"before = rss()\n{code}\nprint(before, rss())")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    names = closure([ln for ln in lines if ln and not ln.startswith("#")])
    sizes = sorted(((installed_bytes(n), n) for n in names), reverse=True)
    total = sum(s for s, _ in sizes)
    print(f"requirements.txt installs {len(sizes)} distributions, {total / 2**30:.2f} GiB on disk; the largest:")
    for size, name in sizes[:8]:
        print(f"  {name:<28} {size / 2**20:8.0f} MiB  {metadata.version(name)}")
    base = rss_after("pass")[1]
    for label, code in [("import numpy", "import numpy"), ("import torch", "import torch"),
                        ("import torch, torchvision.transforms.v2", "import torch, torchvision.transforms.v2"),
                        ("import streamlit", "import streamlit")]:  # fmt: skip
        after = rss_after(code)[1]
        print(f"RSS after {label:<40} {after / 2**20:6.0f} MiB (+{(after - base) / 2**20:.0f} MiB over a bare interpreter)")


if __name__ == "__main__":
    main()
