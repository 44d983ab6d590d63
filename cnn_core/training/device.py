"""Which compute device to use, and a short description of it for the sidebar."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def detect_device(choice: str = "auto"):
    """CUDA, then Apple MPS, then CPU; or the device the user chose, if it is there."""
    import torch

    if choice not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {choice!r}; expected one of {', '.join(DEVICE_CHOICES)}")
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if choice == "auto":
        choice = next(name for name in ("cuda", "mps", "cpu") if available[name])
    if not available[choice]:
        raise ValueError(f"device {choice!r} is not available on this machine; choose 'auto' or 'cpu'")
    return torch.device(choice)


def available_devices() -> list[str]:
    """The device names that work here, best first."""
    import torch

    names = ["cuda"] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def describe_device(device=None, threads: int | None = None) -> str:
    """E.g. 'CUDA: NVIDIA H100 80GB HBM3', 'Apple MPS' or 'CPU (2 threads)': this process's threads, unless
    `threads` says how many a run elsewhere (a worker process) uses."""
    import torch

    device = device or detect_device()
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    threads = threads or torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})"


def cpu_count() -> int:
    """Cores this process may use (respects CPU affinity, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU does bfloat16 maths natively (AVX512-BF16 or AMX-BF16), from the flags Linux lists.

    Elsewhere (macOS, Windows) there is no flag list: the answer is False, and "auto" precision stays fp32.
    """
    import torch

    if not torch.backends.mkldnn.is_available():  # oneDNN runs the bf16 kernels
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo) is not None


def resolve_precision(choice: str, device) -> str:
    """"auto" → "bf16" on hardware with native bfloat16 (AVX512-BF16/AMX CPUs, recent GPUs), else "fp32"."""
    import torch

    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"
