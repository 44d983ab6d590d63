"""What this server may use, and how the app sizes itself to it.

A container's limits (cgroup v2 `memory.max`/`cpu.max`, cgroup v1 `memory.limit_in_bytes` and the
CFS quota) are what matter on a hosted server such as Streamlit Community Cloud (2 cores, 2.7 GB),
not the host's RAM that /proc/meminfo reports. `read_limits` reads them without importing torch;
`plan` turns them into the number of training workers, their threads and the dataset cache budget.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cnn_core.training.device import cpu_count as machine_cpus  # the cores this process may run on (CPU affinity)

MB = 1024**2
# Resident memory of a process right after `import torch`, by build: measured by
# benchmarks/bench_memory.py (docs/performance.md, "Memory"); the CUDA build maps its kernels even without a GPU.
TORCH_RSS = {"cpu": 220 * MB, "cuda": 510 * MB, "none": 0}
SERVER_BASE = 200 * MB  # the Streamlit server with every page imported, beyond torch (measured: 168–180 MB)
RUN_WORKSPACE = 320 * MB  # one classic-recipe run beyond torch (measured: 234–314 MB): data, model, activations
DATASET_ENTRY = 256 * MB  # the largest dataset the app builds (cnn_core.data caps it)
HEADROOM = 0.85  # use at most this share of the limit: the kernel, Python's arenas and spikes need the rest
MAX_RUNS_VAR = "CNN_LAB_MAX_RUNS"  # environment variable: overrides the number of simultaneous runs
THREADS_VAR = "CNN_LAB_THREADS"  # environment variable: overrides the torch threads of each run
WARM_VAR = "CNN_LAB_WARM_WORKERS"  # environment variable: "0" starts no training worker before the first run
WORKER_NICE = 10  # the app's training workers run at this nice value: the web server (nice 0) always goes first
NO_LIMIT = 1 << 60  # cgroup v1 reports "no limit" as a number near 2**63


@dataclass(frozen=True)
class Limits:
    cpus: float  # cores this process may use (the CFS quota, else CPU affinity)
    memory: int  # bytes this process tree may hold
    cpu_source: str  # where `cpus` came from, in words
    memory_source: str  # where `memory` came from, in words


@dataclass(frozen=True)
class Plan:
    max_runs: int  # training runs at once, each in its own worker process
    threads_per_run: int  # torch threads in each worker
    worker_nice: int  # the workers' CPU priority (nice): below the web server's, so that its pages go first
    dataset_entries: int  # datasets the server keeps in memory for all sessions
    server_bytes: int  # expected resident memory of the web server (torch imported)
    worker_bytes: int  # expected resident memory of one worker during a run
    torch_build: str  # "cpu", "cuda" or "none" (not installed)
    reason: str  # one sentence: why these numbers


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_paths(root: Path) -> dict[str, str]:
    """Controller → this process's cgroup path ('' → v2's unified hierarchy), from /proc/self/cgroup."""
    paths = {}
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                paths[controller] = parts[2]
    return paths


def _up_the_tree(mount: Path, path: str):
    """The cgroup folder of this process, then each parent up to the mount point (a limit anywhere applies)."""
    here = mount / path.lstrip("/")
    while True:
        yield here
        if here == mount or mount not in here.parents:
            return
        here = here.parent


def _v2_dir(root: Path) -> Path | None:
    for mount in (root / "sys/fs/cgroup", root / "sys/fs/cgroup/unified"):
        if (mount / "cgroup.controllers").exists():
            return mount
    return None


def _memory_limit(root: Path, paths: dict[str, str]) -> tuple[int | None, str]:
    found: list[tuple[int, str]] = []
    v2 = _v2_dir(root)
    if v2 is not None:
        for folder in _up_the_tree(v2, paths.get("", "/")):
            text = _read(folder / "memory.max")
            if text and text != "max" and text.isdigit():
                found.append((int(text), "the container's cgroup v2 memory.max"))
    v1 = root / "sys/fs/cgroup/memory"
    for folder in _up_the_tree(v1, paths.get("memory", "/")) if v1.is_dir() else ():
        text = _read(folder / "memory.limit_in_bytes")
        if text and text.isdigit() and int(text) < NO_LIMIT:
            found.append((int(text), "the container's cgroup v1 memory.limit_in_bytes"))
    return min(found) if found else (None, "")


def _cpu_limit(root: Path, paths: dict[str, str]) -> tuple[float | None, str]:
    found: list[tuple[float, str]] = []
    v2 = _v2_dir(root)
    if v2 is not None:
        for folder in _up_the_tree(v2, paths.get("", "/")):
            quota, _, period = (_read(folder / "cpu.max") or "max").partition(" ")
            if quota != "max" and quota.isdigit() and period.isdigit() and int(period) > 0:
                found.append((int(quota) / int(period), "the container's cgroup v2 cpu.max"))
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        v1 = root / "sys/fs/cgroup" / name
        if not v1.is_dir():
            continue
        for folder in _up_the_tree(v1, paths.get("cpu", "/")):
            quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
            if quota and period and quota.isdigit() and period.isdigit() and int(period) > 0:
                found.append((int(quota) / int(period), "the container's cgroup v1 CFS quota"))
        break
    return min(found) if found else (None, "")


def _machine_memory(root: Path) -> int:
    for line in (_read(root / "proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def read_limits(root: str | Path = "/") -> Limits:
    """The CPU and memory this process may use: the container's cgroup limits where set, else the machine's."""
    root = Path(root)
    paths = _cgroup_paths(root)
    memory, memory_source = _memory_limit(root, paths)
    cpus, cpu_source = _cpu_limit(root, paths)
    affinity = machine_cpus()
    if cpus is None or cpus > affinity:
        cpus, cpu_source = float(affinity), "the cores this process may run on"
    if memory is None:
        memory, memory_source = _machine_memory(root), "the machine's memory (no container limit)"
    return Limits(cpus=cpus, memory=memory, cpu_source=cpu_source, memory_source=memory_source)


def torch_build() -> str:
    """"cuda" or "cpu" for the installed PyTorch, without importing it (it takes seconds); "none" if absent."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return "none"
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return "cuda" if any(lib.glob("libtorch_cuda*")) else "cpu"


def worker_bytes(build: str = "cpu") -> int:
    """Expected resident memory of one training worker during a run: torch's import, then the run's workspace."""
    return TORCH_RSS[build] + RUN_WORKSPACE


def plan(limits: Limits, build: str = "cpu", max_runs: int | None = None, threads: int | None = None) -> Plan:
    """Workers, threads and dataset cache that fit the limits, with the reason in one sentence.

    Memory first: the server (with torch), then one worker per run, each paying torch's import again,
    then what is left for shared datasets. CPU next: one run per two cores, each with every core it is given,
    as the CLI trains; the workers run at nice WORKER_NICE, so that the web server takes a core the moment it
    has work (a page rerun, a live view) and a run waits for it instead of slowing it.

    Why not a core kept for the server: a run's torch threads meet after every operation, so a run pauses
    while the server works either way, but the server works a few percent of the time. On 2 cores the classic
    recipe trained in the app within 1.06x of the CLI (one thread: about 1.4x), a run watched by 10 sessions
    within 1.3x of its unwatched time, and other learners' page reruns within 1.18x (benchmarks/bench_runtime.py,
    docs/performance.md).
    """
    server = SERVER_BASE + TORCH_RSS[build]
    worker = worker_bytes(build)
    budget = int(limits.memory * HEADROOM)
    by_memory = max(1, (budget - server - DATASET_ENTRY) // worker)
    cores = max(1, int(limits.cpus))
    by_cpu = max(1, cores // 2)
    chosen = max_runs if max_runs else min(by_memory, by_cpu)
    left = budget - server - chosen * worker
    entries = max(1, min(4, left // DATASET_ENTRY))
    threads = threads or max(1, cores // chosen)
    limit_word = "memory" if by_memory < by_cpu else "cores"
    why = (f"{MAX_RUNS_VAR}={max_runs}" if max_runs else
           f"limited by {limit_word}: {cores} core{'s' * (cores != 1)} allow {by_cpu}, "
           f"{limits.memory / 1e9:.1f} GB allow {by_memory}")  # fmt: skip
    reason = (f"{chosen} run{'s' * (chosen != 1)} at a time ({why}); each worker about "
              f"{worker / 1e9:.2f} GB with the {build} build of PyTorch, the server about {server / 1e9:.2f} GB.")
    if left < DATASET_ENTRY:
        reason += " Memory is tight: one dataset is kept at a time" + (
            "; the CPU build of PyTorch needs far less (docs/deploying.md)." if build == "cuda" else ".")
    return Plan(max_runs=chosen, threads_per_run=threads, worker_nice=WORKER_NICE, dataset_entries=int(entries),
                server_bytes=server, worker_bytes=worker, torch_build=build, reason=reason)  # fmt: skip


def env_count(name: str) -> int | None:
    """The environment variable `name` as a positive int, else None; ValueError naming it if it is not one."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def server_plan() -> Plan:
    """The plan for this process: its limits, its PyTorch build, $CNN_LAB_MAX_RUNS and $CNN_LAB_THREADS."""
    return plan(read_limits(), torch_build(), env_count(MAX_RUNS_VAR), env_count(THREADS_VAR))


def run_allowance(limits: Limits, plan: Plan) -> int:
    """The memory one training run may use beyond PyTorch itself: its share of what the server and one dataset
    leave of the limit (at least RUN_WORKSPACE, what the classic recipe needs)."""
    budget = int(limits.memory * HEADROOM)
    share = (budget - plan.server_bytes - DATASET_ENTRY) // max(1, plan.max_runs) - TORCH_RSS[plan.torch_build]
    return max(RUN_WORKSPACE, share)


def check_network(spec, batch_size: int = 1, limits: Limits | None = None, plan_: Plan | None = None):
    """Whether a network fits a training run on this server (cnn_core.nets.budget.Verdict: ok, warn or refuse), from
    its spec alone: the Architecture and Training pages, the CLI's train and uploaded checkpoints ask here before any
    model is built. ValueError if the spec breaks, or if $CNN_LAB_MAX_RUNS or $CNN_LAB_THREADS is not a count."""
    from cnn_core.nets.budget import judge, network_cost

    limits = limits or read_limits()
    plan_ = plan_ or plan(limits, torch_build(), env_count(MAX_RUNS_VAR), env_count(THREADS_VAR))
    return judge(network_cost(spec, batch_size), run_allowance(limits, plan_))


def warm_workers() -> bool:
    """Whether the app starts its training workers when its training manager is made, before any run ($CNN_LAB_WARM_WORKERS,
    default yes): a first run then doesn't wait for a worker to start and import torch; "0" leaves them until needed."""
    return os.environ.get(WARM_VAR, "1").strip() != "0"
