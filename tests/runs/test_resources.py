"""The server's limits from fake cgroup trees (v1, v2, none, tiny), and the sizing rule built on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnn_core.runs import resources
from cnn_core.runs.resources import MB, Limits, plan, read_limits
from tests.conftest import ROOT

GB = 1024**3


def limits_of(cpus: float, memory: int) -> Limits:
    """Limits as a container would have them, wherever they came from."""
    return Limits(cpus=cpus, memory=memory, cpu_source="", memory_source="")


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A fake / with 16 GiB of RAM and 8 cores of affinity; the test adds cgroup files."""
    write(tmp_path, "proc/meminfo", f"MemTotal:       {16 * 1024 * 1024} kB\nMemFree:        1 kB\n")
    monkeypatch.setattr(resources, "machine_cpus", lambda: 8)
    return tmp_path


def test_without_a_container_limit_the_machine_is_the_limit(machine):
    write(machine, "proc/self/cgroup", "0::/\n")
    limits = read_limits(machine)
    assert limits.memory == 16 * GB and limits.cpus == 8
    assert "no container limit" in limits.memory_source


def test_cgroup_v2_memory_max_and_cpu_max(machine):
    write(machine, "proc/self/cgroup", "0::/app\n")
    write(machine, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n")
    write(machine, "sys/fs/cgroup/app/memory.max", f"{int(2.7 * GB)}\n")
    write(machine, "sys/fs/cgroup/app/cpu.max", "200000 100000\n")
    limits = read_limits(machine)
    assert limits.memory == int(2.7 * GB) and limits.cpus == 2.0
    assert "v2" in limits.memory_source and "v2" in limits.cpu_source


def test_cgroup_v2_max_means_no_limit_and_a_parent_limit_applies(machine):
    write(machine, "proc/self/cgroup", "0::/pod/app\n")
    write(machine, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n")
    write(machine, "sys/fs/cgroup/pod/app/memory.max", "max\n")
    write(machine, "sys/fs/cgroup/pod/app/cpu.max", "max 100000\n")
    write(machine, "sys/fs/cgroup/pod/memory.max", f"{3 * GB}\n")
    limits = read_limits(machine)
    assert limits.memory == 3 * GB
    assert limits.cpus == 8  # no quota anywhere: the affinity


def test_cgroup_v1_limit_in_bytes_and_cfs_quota(machine):
    write(machine, "proc/self/cgroup", "4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n")
    write(machine, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", f"{2 * GB}\n")
    write(machine, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    write(machine, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n")
    write(machine, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    limits = read_limits(machine)
    assert limits.memory == 2 * GB and limits.cpus == 1.5
    assert "v1" in limits.memory_source and "v1" in limits.cpu_source


def test_cgroup_v1_unlimited_values_fall_back_to_the_machine(machine):
    write(machine, "proc/self/cgroup", "4:memory:/\n1:cpu:/\n")
    write(machine, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    write(machine, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
    write(machine, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    limits = read_limits(machine)
    assert limits.memory == 16 * GB and limits.cpus == 8


def test_a_quota_above_the_affinity_is_capped_by_the_cores_we_may_use(machine):
    write(machine, "proc/self/cgroup", "0::/\n")
    write(machine, "sys/fs/cgroup/cgroup.controllers", "cpu\n")
    write(machine, "sys/fs/cgroup/cpu.max", "3200000 100000\n")  # 32 cores of quota, 8 of affinity
    assert read_limits(machine).cpus == 8


def test_this_machine_reads_without_error():
    limits = read_limits()
    assert limits.cpus >= 1 and limits.memory > 256 * MB


def test_community_cloud_with_the_cuda_build_trains_one_run_and_fits_in_memory():
    cloud = limits_of(2, int(2.7 * GB))
    p = plan(cloud, "cuda")
    assert p.max_runs == 1 and p.threads_per_run == 2  # the pages go first through the workers' nice value
    assert p.server_bytes + p.worker_bytes <= cloud.memory * resources.HEADROOM
    assert "2 cores allow 1" in p.reason


def test_a_tiny_limit_still_allows_one_run_and_one_dataset_and_says_so():
    p = plan(limits_of(1, 512 * MB), "cuda")
    assert p.max_runs == 1 and p.dataset_entries == 1 and p.threads_per_run == 1
    assert "tight" in p.reason


def test_memory_limits_runs_before_cores_do():
    big_cpu_small_memory = limits_of(16, 4 * GB)
    p = plan(big_cpu_small_memory, "cuda")
    expected = (int(4 * GB * resources.HEADROOM) - p.server_bytes - resources.DATASET_ENTRY) // p.worker_bytes
    assert p.max_runs == expected < 8
    assert "limited by memory" in p.reason


def test_cores_limit_runs_on_a_big_machine_and_every_core_trains_below_the_server_s_priority():
    p = plan(limits_of(16, 64 * GB), "cpu")
    assert p.max_runs == 8 and p.threads_per_run == 2 and p.dataset_entries == 4
    assert p.worker_nice == resources.WORKER_NICE > 0
    assert "limited by cores" in p.reason


def test_the_cpu_build_leaves_more_room_than_the_cuda_build():
    cloud = limits_of(2, int(2.7 * GB))
    assert plan(cloud, "cpu").dataset_entries > plan(cloud, "cuda").dataset_entries


def test_max_runs_variable_overrides_and_is_validated(monkeypatch):
    monkeypatch.setenv(resources.MAX_RUNS_VAR, "3")
    assert resources.env_count(resources.MAX_RUNS_VAR) == 3
    p = plan(limits_of(2, 8 * GB), "cpu", resources.env_count(resources.MAX_RUNS_VAR))
    assert p.max_runs == 3 and f"{resources.MAX_RUNS_VAR}=3" in p.reason
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(resources.MAX_RUNS_VAR, bad)
        with pytest.raises(ValueError, match=resources.MAX_RUNS_VAR):
            resources.env_count(resources.MAX_RUNS_VAR)


def test_threads_variable_overrides_the_plan_s_threads_and_is_validated(monkeypatch):
    two_cores = limits_of(2, 8 * GB)
    monkeypatch.setenv(resources.THREADS_VAR, "1")
    assert plan(two_cores, "cpu", threads=resources.env_count(resources.THREADS_VAR)).threads_per_run == 1
    monkeypatch.setenv(resources.THREADS_VAR, "many")
    with pytest.raises(ValueError, match=resources.THREADS_VAR):
        resources.server_plan()


def test_torch_build_is_read_without_importing_torch():
    import subprocess
    import sys

    code = "import sys; from cnn_core.runs.resources import torch_build; b = torch_build(); print(b, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    build, imported = out.stdout.split()
    assert build in ("cpu", "cuda") and imported == "False"


def test_every_page_shows_the_servers_facts_in_the_sidebar(app):
    at = app()
    assert not at.exception
    limits, chosen = read_limits(), resources.server_plan()
    text = " ".join(c.value for c in at.sidebar.caption)
    assert f"{limits.cpus:g} cores" in text and chosen.reason in text
    assert f"up to {chosen.dataset_entries} dataset" in text


def test_a_bad_max_runs_variable_is_a_clear_message_in_the_sidebar(app, monkeypatch):
    from ui.server import server_facts

    server_facts.clear()
    monkeypatch.setenv(resources.MAX_RUNS_VAR, "lots")
    try:
        at = app()
        assert not at.exception
        assert any(resources.MAX_RUNS_VAR in e.value for e in at.sidebar.error)
    finally:
        server_facts.clear()


def test_a_two_core_server_trains_one_run_on_both_cores_as_the_cli_does():
    p = plan(limits_of(2, int(2.7 * GB)), "cpu")
    assert p.max_runs == 1 and p.threads_per_run == 2
    p = plan(limits_of(4, 64 * GB), "cpu")
    assert p.max_runs == 2 and p.threads_per_run == 2
