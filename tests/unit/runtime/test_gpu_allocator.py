"""The GPU allocator (tuning/runtime/gpu_allocator.py) on a machine with GPUs, and on this one, which has none.

No NVIDIA driver can run here, so most tests hand the allocator ``StandInNvml``: a stand-in for the NVIDIA driver
that speaks pynvml's interface. Its functions carry pynvml's names and parameters (checked against the installed
pynvml below), it returns pynvml's own result types (``c_nvmlMemory_t`` with .total/.used/.free, process infos
built by pynvml from ``c_nvmlProcessInfo_v3_t``, UUIDs as ``str``), raises pynvml's own exception classes, and,
like the driver, refuses every call outside ``nvmlInit``/``nvmlShutdown``. The lock files are real files with
real ``flock``s. One test uses the real pynvml against this machine's missing driver.
"""

from __future__ import annotations

import inspect
import os
import threading
from pathlib import Path

import pynvml
import pytest

from tuning.runtime.gpu_allocator import GpuAllocator, NotEnoughGpus

GIB = 1024**3


class StandInNvml:
    """A machine's GPUs as pynvml shows them. ``gpus``: (uuid, used bytes, compute pids) per GPU, in index order."""

    NVMLError = pynvml.NVMLError
    NVMLError_LibraryNotFound = pynvml.NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = pynvml.NVMLError_DriverNotLoaded
    NVMLError_NotSupported = pynvml.NVMLError_NotSupported

    def __init__(self, gpus: list[tuple[str, int, list[int]]], total: int = 80 * GIB) -> None:
        self.gpus = gpus
        self.total = total
        self.initialised = 0
        self.inits = 0
        self.on_init: list = []  # callables run at each nvmlInit, one per call: the world changing between polls

    def _check(self) -> None:
        if self.initialised <= 0:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: int) -> tuple[str, int, list[int]]:
        self._check()
        return self.gpus[handle]

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.on_init:
            self.on_init.pop(0)()
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self._check()
        self.initialised -= 1

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._check()
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return index

    def nvmlDeviceGetIndex(self, handle: int) -> int:
        self._gpu(handle)
        return handle

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self._gpu(handle)[0]

    def nvmlDeviceGetMemoryInfo(self, handle: int, version: int | None = None) -> pynvml.c_nvmlMemory_t:
        used = self._gpu(handle)[1]
        return pynvml.c_nvmlMemory_t(total=self.total, free=self.total - used, used=used)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list:
        pids = self._gpu(handle)[2]
        return [
            pynvml.nvmlStructToFriendlyObject(pynvml.c_nvmlProcessInfo_v3_t(pid=pid, usedGpuMemory=GIB)) for pid in pids
        ]


def idle(uuid: str) -> tuple[str, int, list[int]]:
    return (uuid, 300 * 1024**2, [])  # what an idle GPU shows: a few hundred MiB the driver reserves


def test_the_stand_in_speaks_pynvml() -> None:
    for name, member in inspect.getmembers(StandInNvml, inspect.isfunction):
        if name.startswith("nvml"):
            real = list(inspect.signature(getattr(pynvml, name)).parameters)
            assert list(inspect.signature(member).parameters)[1:] == real, name
    nvml = StandInNvml([idle("GPU-a")])
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        nvml.nvmlDeviceGetCount()
    nvml.nvmlInit()
    memory = nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(0))
    assert isinstance(memory, pynvml.c_nvmlMemory_t) and memory.used + memory.free == memory.total


def test_picks_free_gpus_and_skips_busy_ones(tmp_path: Path) -> None:
    nvml = StandInNvml(
        [
            ("GPU-0", 70 * GIB, []),  # memory taken by something that is not a compute process we can see
            idle("GPU-1"),
            ("GPU-2", 300 * 1024**2, [4242]),  # a compute process, little memory yet
            idle("GPU-3"),
            idle("GPU-4"),
        ]
    )
    with GpuAllocator(tmp_path, nvml=nvml).allocate(2) as devices:
        assert devices == ["1", "3"]
    assert nvml.initialised == 0, "NVML was left initialised"


def test_two_allocators_on_one_machine_never_share_a_gpu(tmp_path: Path) -> None:
    nvml = StandInNvml([idle("GPU-0"), idle("GPU-1"), idle("GPU-2")])
    first, second = GpuAllocator(tmp_path, nvml=nvml), GpuAllocator(tmp_path, nvml=nvml)
    with first.allocate(2) as a, second.allocate(1) as b:
        assert a == ["0", "1"] and b == ["2"]
        with pytest.raises(NotEnoughGpus) as refused, first.allocate(1):
            pass
    assert "held by another servetune trial" in str(refused.value)
    assert str(os.getpid()) in str(refused.value)  # the lock file names its holder


def test_concurrent_allocations_from_threads_hand_out_each_gpu_once(tmp_path: Path) -> None:
    """Eight threads, four GPUs, one each: every GPU goes to exactly one holder while all hold."""
    nvml = StandInNvml([idle(f"GPU-{i}") for i in range(4)])
    lock = threading.Lock()  # the stand-in's counters are not thread-safe; the allocator's locking is under test
    guarded = GuardedNvml(nvml, lock)
    start, holding = threading.Barrier(8, timeout=30), threading.Barrier(8, timeout=30)
    got: list[list[str] | str] = [[] for _ in range(8)]

    def worker(n: int) -> None:
        start.wait()
        try:
            with GpuAllocator(tmp_path, nvml=guarded).allocate(1) as devices:
                got[n] = devices
                holding.wait()  # every winner still holds its GPU while the others try
        except NotEnoughGpus:
            got[n] = "refused"
            holding.wait()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [g[0] for g in got if g != "refused"]
    assert sorted(winners) == ["0", "1", "2", "3"]
    assert got.count("refused") == 4


class GuardedNvml:
    def __init__(self, nvml: StandInNvml, lock: threading.Lock) -> None:
        self._nvml, self._lock = nvml, lock
        for name in ("NVMLError", "NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded", "NVMLError_NotSupported"):
            setattr(self, name, getattr(nvml, name))

    def __getattr__(self, name: str):
        method = getattr(self._nvml, name)

        def call(*args):
            with self._lock:
                return method(*args)

        return call


@pytest.mark.parametrize("ending", [RuntimeError("benchmark failed"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_gpus_are_released_whatever_ends_the_trial(tmp_path: Path, ending: BaseException) -> None:
    nvml = StandInNvml([idle("GPU-0")])
    allocator = GpuAllocator(tmp_path, nvml=nvml)
    with pytest.raises(type(ending)), allocator.allocate(1) as devices:
        assert devices == ["0"]
        raise ending
    with GpuAllocator(tmp_path, nvml=nvml).allocate(1) as again:
        assert again == ["0"]


def test_not_enough_free_gpus_says_how_many_are_free_and_why_the_others_are_not(tmp_path: Path) -> None:
    nvml = StandInNvml([idle("GPU-0"), ("GPU-1", 40 * GIB, []), ("GPU-2", 2 * GIB, [77, 78])])
    with pytest.raises(NotEnoughGpus) as error, GpuAllocator(tmp_path, nvml=nvml).allocate(2):
        pytest.fail("allocated without enough free GPUs")
    message = str(error.value)
    assert "2 GPU(s) needed, 1 of this machine's 3 free" in message
    assert "GPU 1 (GPU-1): busy: 40960 MiB of memory used" in message
    assert "GPU 2 (GPU-2): busy: 2 compute process(es) on it (pid 77, 78)" in message
    # The free GPU it looked at is not kept locked by the failed attempt.
    with GpuAllocator(tmp_path, nvml=nvml).allocate(1) as devices:
        assert devices == ["0"]


def test_waits_for_a_gpu_that_frees_up_within_the_timeout(tmp_path: Path) -> None:
    """An engine that just stopped still shows its memory for a moment: the allocator polls until it is gone."""
    nvml = StandInNvml([("GPU-0", 60 * GIB, [])])
    still_busy = [lambda: None, lambda: None]
    nvml.on_init = [*still_busy, lambda: nvml.gpus.__setitem__(0, idle("GPU-0"))]
    with GpuAllocator(tmp_path, nvml=nvml).allocate(1, timeout=60, poll=0.01) as devices:
        assert devices == ["0"]
    assert nvml.inits == 3


def test_max_used_mib_sets_what_counts_as_busy(tmp_path: Path) -> None:
    nvml = StandInNvml([("GPU-0", 2 * GIB, [])])
    with GpuAllocator(tmp_path, max_used_mib=4096, nvml=nvml).allocate(1) as devices:
        assert devices == ["0"]
    with pytest.raises(NotEnoughGpus), GpuAllocator(tmp_path, max_used_mib=1024, nvml=nvml).allocate(1):
        pass


@pytest.mark.parametrize(
    "init_error",
    [pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND), pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)],
    ids=["library-not-found", "driver-not-loaded"],
)
def test_no_nvidia_driver_means_a_cpu_slot(tmp_path: Path, init_error: Exception) -> None:
    nvml = StandInNvml([])

    def fail() -> None:
        raise init_error

    nvml.on_init = [fail]
    with GpuAllocator(tmp_path, nvml=nvml).allocate(1) as devices:
        assert devices is None


def test_no_gpu_means_a_cpu_slot(tmp_path: Path) -> None:
    with GpuAllocator(tmp_path, nvml=StandInNvml([])).allocate(1) as devices:
        assert devices is None


def test_no_pynvml_means_a_cpu_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` now raises ImportError
    with GpuAllocator(tmp_path).allocate(1) as devices:
        assert devices is None


def test_other_nvml_errors_are_not_taken_for_a_missing_gpu(tmp_path: Path) -> None:
    nvml = StandInNvml([idle("GPU-0")])

    def fail() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)

    nvml.on_init = [fail]
    with pytest.raises(pynvml.NVMLError_NoPermission), GpuAllocator(tmp_path, nvml=nvml).allocate(1):
        pass


def test_real_pynvml_on_this_machine_without_a_driver_gives_a_cpu_slot(tmp_path: Path) -> None:
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError_LibraryNotFound, pynvml.NVMLError_DriverNotLoaded):
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver; the test is for machines without one")
    with GpuAllocator(tmp_path).allocate(1) as devices:
        assert devices is None
