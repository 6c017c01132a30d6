"""Which GPUs of this machine a trial's engine gets: free ones, never shared with another trial.

Prefect's GPU slots (``tuning/runtime/gpu_slots.py``) bound how many GPUs of a class the fleet's trials hold; this picks
the physical GPUs on the worker's machine. A GPU is free when

- NVML shows it idle: no compute process on it and at most ``max_used_mib`` of memory used (busy GPUs are not
  free GPUs, whoever uses them: another team's job, an engine a crashed run left, a driver's reservation);
- and no other servetune trial on this machine holds it: each GPU has a lock file in ``lock_dir``, named by the
  GPU's UUID (the same GPU in every container, whatever its index there), held with an exclusive
  ``fcntl.flock`` while the trial runs. Two worker processes of one machine therefore never hand out the same
  GPU, and a process that dies, even by SIGKILL, drops its locks with its file descriptors. Lock files are
  left in place (removing one would race with a process opening it); they hold the last holder's PID.

The GPUs are checked under their lock, so two allocators cannot both find a GPU free and both take it. The
descriptors are not inheritable (Python's default), so an engine started meanwhile does not keep a lock.

Without NVML (no ``pynvml``, no driver library, no loaded driver) or without any GPU, ``allocate`` yields
``None``: the trial runs on the CPU. With fewer free GPUs than asked, it retries every ``poll`` seconds for up to
``timeout`` seconds (an engine that just stopped may take a moment to release its memory), then raises
``NotEnoughGpus`` saying how many are free and why each other GPU was skipped. The default timeout is 0: fail at
once. With Prefect's GPU slots sized to the machines' GPUs, a shortage means something outside servetune uses
them.

The ids yielded are NVML indices, which are PCI bus order: a process given them in ``CUDA_VISIBLE_DEVICES``
needs ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` to number the GPUs the same way (Docker's ``device_ids`` already do).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tuning.runtime.settings import settings

_MIB = 1024 * 1024
LOCK_DIR_ENV = "SERVETUNE_GPU_LOCK_DIR"


class NotEnoughGpus(RuntimeError):
    """Fewer free GPUs than the trial needs; the message names every GPU that was skipped and why."""


def default_lock_dir() -> Path:
    """``$SERVETUNE_GPU_LOCK_DIR``, else one folder per machine under the temp dir, shared by every worker that
    runs as the same user (workers of one machine must share it to keep out of each other's GPUs)."""
    if configured := settings().gpu_lock_dir:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "servetune-gpu-locks"


@dataclass
class _Gpu:
    index: int
    uuid: str
    used_mib: float
    processes: list[int] | None  # None: the driver cannot list them (some vGPU / MIG set-ups)


def load_nvml() -> ModuleType | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def no_driver_errors(nvml: ModuleType) -> tuple[type[BaseException], ...]:
    """NVML's errors that mean "no NVIDIA GPU here" rather than "something is wrong with one"."""
    names = ("NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded")
    return tuple(error for name in names if isinstance(error := getattr(nvml, name, None), type))


class GpuAllocator:
    """Hands out free GPUs of this machine, each to one trial at a time (see the module's docstring)."""

    def __init__(
        self,
        lock_dir: str | Path | None = None,
        max_used_mib: float = 1024,
        nvml: ModuleType | Any | None = None,
    ) -> None:
        self.lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
        self.max_used_mib = max_used_mib
        self._nvml = nvml

    def _gpus(self) -> list[_Gpu] | None:
        """Every GPU NVML sees, or None when there is no NVML or no driver."""
        nvml = self._nvml if self._nvml is not None else load_nvml()
        if nvml is None:
            return None
        try:
            nvml.nvmlInit()
        except no_driver_errors(nvml):
            return None
        try:
            gpus = []
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = nvml.nvmlDeviceGetUUID(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                try:
                    processes = [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)]
                except nvml.NVMLError_NotSupported:
                    processes = None
                gpus.append(
                    _Gpu(
                        index=nvml.nvmlDeviceGetIndex(handle),
                        uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid),
                        used_mib=memory.used / _MIB,
                        processes=processes,
                    )
                )
            return gpus
        finally:
            nvml.nvmlShutdown()

    def gpu_total(self) -> int:
        """How many GPUs this machine has (busy or not); 0 without NVIDIA GPUs."""
        return len(self._gpus() or [])

    def _busy(self, gpu: _Gpu) -> str | None:
        if gpu.processes:
            return f"busy: {len(gpu.processes)} compute process(es) on it (pid {', '.join(map(str, gpu.processes))})"
        if gpu.used_mib > self.max_used_mib:
            return f"busy: {gpu.used_mib:.0f} MiB of memory used (free means at most {self.max_used_mib:g} MiB)"
        return None

    def _lock(self, gpu: _Gpu) -> int | str:
        """The descriptor holding the GPU's lock, or why it could not be had."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        path = self.lock_dir / f"{gpu.uuid}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            return f"held by another servetune trial on this machine (pid {holder or '?'}, lock {path})"
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _try(self, count: int) -> tuple[list[tuple[int, int]], list[str], int]:
        """Lock up to ``count`` free GPUs: (index, fd) of each, why each other GPU was skipped, how many GPUs."""
        gpus = self._gpus()
        if gpus is None:
            return [], [], 0
        taken: list[tuple[int, int]] = []
        skipped: list[str] = []
        try:
            for gpu in gpus:
                if len(taken) == count:
                    break
                held = self._lock(gpu)
                if isinstance(held, str):
                    skipped.append(f"GPU {gpu.index} ({gpu.uuid}): {held}")
                    continue
                # Checked under the lock: an engine another allocator started there shows up now.
                if (reason := self._busy(gpu)) is not None:
                    os.close(held)
                    skipped.append(f"GPU {gpu.index} ({gpu.uuid}): {reason}")
                    continue
                taken.append((gpu.index, held))
        except BaseException:
            _release(taken)
            raise
        return taken, skipped, len(gpus)

    @contextlib.contextmanager
    def allocate(self, count: int, timeout: float = 0.0, poll: float = 1.0) -> Iterator[list[str] | None]:
        """Hold ``count`` free GPUs while the block runs and yield their indices (as strings), or None on a machine
        without NVIDIA GPUs. The GPUs are released whatever ends the block (an exception, Ctrl-C, a timeout)."""
        if count < 1:
            raise ValueError(f"allocate at least one GPU, not {count}")
        deadline = time.monotonic() + timeout
        while True:
            taken, skipped, total = self._try(count)
            if total == 0:
                yield None
                return
            if len(taken) == count:
                break
            _release(taken)
            if time.monotonic() >= deadline:
                free = len(taken)
                why = "".join(f"\n  {line}" for line in skipped)
                waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
                raise NotEnoughGpus(
                    f"{count} GPU(s) needed, {free} of this machine's {total} free{waited}; skipped:{why}"
                )
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        try:
            yield [str(index) for index, _ in taken]
        finally:
            _release(taken)


def _release(taken: list[tuple[int, int]]) -> None:
    for _, fd in taken:
        os.close(fd)  # closing the only descriptor of the open file drops its flock
