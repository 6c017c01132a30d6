"""GPU slots: how many trials may hold GPUs of one class at once, kept by a Prefect global concurrency limit.

Each GPU class of ``infra/pools.yaml`` has a global concurrency limit, ``servetune-gpu-<class>``, whose limit is
the number of GPUs of that class in the fleet (``servetune pools apply`` creates it; CPU pools share
``servetune-cpu``). A trial that needs ``n`` GPUs occupies ``n`` slots for as long as its engine runs, so
trials queue on Prefect's server rather than on a machine, whichever worker runs them. Which physical GPUs
of the worker's machine a trial then gets is the allocator's business (``tuning/runtime/gpu_allocator.py``).

The limit must exist: a missing one is an error naming the command that creates it, not a silent pass (Prefect's
own default is to skip a missing limit, which would let every trial through). A lease that Prefect cannot renew
(the server briefly unreachable during an hours-long benchmark) does not stop the trial: the allocator's lock
still keeps the GPUs of the machine from being shared.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tuning.errors import ServetuneError
from tuning.runtime.settings import settings

# Names the pool's GPU class in the environment of the flow runs a worker of that pool starts (set by
# `servetune pools apply` as a job variable); `cpu` on a pool without GPUs.
GPU_CLASS_ENV = "SERVETUNE_GPU_CLASS"
# The class pools without GPUs set, so their trials take slots too: one engine per CPU slot.
CPU_CLASS = "cpu"
CPU_LIMIT = "servetune-cpu"
# Slots are a lease the holder renews; one whose holder vanished is freed by the server after this long.
LEASE_SECONDS = 120


class GpuSlotError(ServetuneError, RuntimeError):
    """The slots cannot be had: the limit is missing, or asks for more slots than the limit has."""


class GpuSlotTimeout(GpuSlotError, TimeoutError):
    """Every slot stayed occupied by other trials for the whole timeout."""


def limit_name(gpu_class: str | None) -> str:
    """The global concurrency limit of a GPU class (``None`` or ``cpu``: the CPU pools' limit)."""
    return f"servetune-gpu-{gpu_class}" if gpu_class and gpu_class != CPU_CLASS else CPU_LIMIT


def current_gpu_class() -> str | None:
    """The GPU class of the pool this flow run was started from, as the pool's job variables set it."""
    return settings().gpu_class or None


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect import get_run_logger

    try:
        return get_run_logger()
    except Exception:  # outside a flow or task run
        return logging.getLogger(__name__)


@contextmanager
def occupy(gpu_class: str | None, count: int, timeout: float | None) -> Iterator[str]:
    """Hold ``count`` slots of the GPU class's limit while the block runs; release them whatever happens.

    Waits up to ``timeout`` seconds (``None``: without end) for other trials to release slots, then raises
    ``GpuSlotTimeout``. Yields the limit's name. Raises ``GpuSlotError`` when the limit does not exist or is
    smaller than ``count``. When the server cannot be reached to release the slots (it went away with a Ctrl-C),
    the block's own ending stands and the server frees the slots when their lease lapses, within
    ``LEASE_SECONDS``.
    """
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    if count < 1:
        raise ValueError(f"a trial occupies at least one slot, not {count}")
    name = limit_name(gpu_class)
    held = concurrency(
        name,
        occupy=count,
        timeout_seconds=timeout,
        strict=True,
        lease_duration=LEASE_SECONDS,
        raise_on_lease_renewal_failure=False,
    )
    try:
        held.__enter__()
    except TimeoutError as exc:
        raise GpuSlotTimeout(
            f"no {count} free slot(s) of {name!r} within {timeout:g}s: other trials hold them"
        ) from exc
    except ConcurrencySlotAcquisitionError as exc:
        reason = str(exc)
        if "must be created" in reason:
            reason = "it does not exist: create it with `servetune pools apply` (infra/pools.yaml)"
        elif "greater than the limit" in reason:
            reason = "that is more than the limit has: check the slots in infra/pools.yaml"
        raise GpuSlotError(f"cannot occupy {count} slot(s) of {name!r}: {reason}") from exc
    ending: BaseException | None = None
    try:
        yield name
    except BaseException as exc:
        ending = exc
        raise
    finally:
        try:
            held.__exit__(type(ending) if ending else None, ending, ending.__traceback__ if ending else None)
        except Exception as exc:
            if exc is not ending:
                _logger().warning(
                    "could not release %d slot(s) of %r (%s: %s); the server frees them within %ds",
                    count,
                    name,
                    type(exc).__name__,
                    exc,
                    LEASE_SECONDS,
                )
