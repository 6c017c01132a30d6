"""Where a run ran, recorded with it: the engine's version, the host's CPUs, memory and GPUs, and the versions of
servetune and Python. Read once when a run starts or resumes (``Store.record_environment``); the report shows it.

The host is the one running the tune flow. Trials on a work pool run elsewhere: their hosts are the trials' own
``owner`` column.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
from pathlib import Path

from tuning.runtime.gpu_allocator import load_nvml, no_driver_errors


def servetune_version() -> str:
    try:
        return importlib.metadata.version("servetune")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("model name")]
    return names[0] if names else platform.machine()


def _memory_gib() -> str:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "unknown"
    return f"{total / 2**30:.1f} GiB"


def _gpus() -> str:
    """The GPUs NVML sees, by model and memory; "none" without NVML or a driver."""
    nvml = load_nvml()
    if nvml is None:
        return "none (no NVML)"
    try:
        nvml.nvmlInit()
    except no_driver_errors(nvml):
        return "none (no NVIDIA driver)"
    except Exception as exc:  # a broken driver must not stop a run from being recorded
        return f"unknown ({type(exc).__name__})"
    try:
        models = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30
            models.append(f"{name.decode() if isinstance(name, bytes) else name} ({memory:.0f} GiB)")
    finally:
        nvml.nvmlShutdown()
    if not models:
        return "none"
    return ", ".join(f"{models.count(m)} x {m}" for m in dict.fromkeys(models))


def host_environment(engine_version: str) -> dict[str, str]:
    """The run's environment as labelled strings, in the order a report lists them."""
    return {
        "engine version": engine_version,
        "host": socket.gethostname(),
        "operating system": platform.platform(),
        "CPU": f"{os.cpu_count() or '?'} x {_cpu_model()}",
        "memory": _memory_gib(),
        "GPUs": _gpus(),
        "servetune": servetune_version(),
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
    }
