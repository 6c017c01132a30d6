"""GPU slots (tuning/runtime/gpu_slots.py) against a real Prefect server: its global concurrency limits keep the count.

To make the chance of overlap certain rather than likely, a trial holding the only slot stays inside until the
server has refused another trial's request while it held it. The refusals are counted by wrapping the Prefect
client's own request method (the server's 423 answers pass through unchanged); threads meet at barriers and
wait on a condition, never on a sleep.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prefect import get_client
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.settings import PREFECT_API_URL, temporary_settings

from tuning.runtime.gpu_slots import GPU_CLASS_ENV, GpuSlotError, GpuSlotTimeout, current_gpu_class, limit_name, occupy


def make_limit(slots: int) -> str:
    """A fresh GPU class whose limit has ``slots`` slots."""
    gpu_class = f"t{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=limit_name(gpu_class), limit=slots))
    return gpu_class


def active_slots(gpu_class: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(limit_name(gpu_class)).active_slots


class Refusals:
    """How many times the server answered a slot request with 423 Locked (all taken)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def seen(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_beyond(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count > count, timeout=120), "no other trial was refused"


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> Iterator[Refusals]:
    counter = Refusals()
    original = PrefectClient.increment_concurrency_slots_with_lease

    async def counting(self, *args, **kwargs):
        try:
            return await original(self, *args, **kwargs)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 423:
                counter.seen()
            raise

    monkeypatch.setattr(PrefectClient, "increment_concurrency_slots_with_lease", counting)
    yield counter


def test_a_limit_of_one_lets_one_trial_at_a_time_hold_the_gpu(prefect_server: None, refusals: Refusals) -> None:
    gpu_class = make_limit(1)
    lock = threading.Lock()
    events: list[tuple[str, int, float]] = []
    start = threading.Barrier(3, timeout=60)
    errors: list[BaseException] = []

    def trial(n: int) -> None:
        try:
            start.wait()
            with occupy(gpu_class, 1, timeout=300):
                with lock:
                    events.append(("enter", n, time.monotonic()))
                    position = sum(kind == "enter" for kind, _, _ in events)
                    refused_so_far = refusals.count
                if position < 3:  # another trial is still waiting: hold until the server has turned it away
                    refusals.wait_beyond(refused_so_far)
                with lock:
                    events.append(("exit", n, time.monotonic()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=trial, args=(n,), daemon=True) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert [kind for kind, _, _ in events] == ["enter", "exit"] * 3, events
    assert {n for _, n, _ in events} == {0, 1, 2}
    for (_, who_in, entered), (_, who_out, left) in zip(events[::2], events[1::2], strict=True):
        assert who_in == who_out and entered <= left
    for (_, _, left), (_, _, next_entered) in zip(events[1::2], events[2::2], strict=False):
        assert left <= next_entered, "two trials held the only slot at the same time"
    assert refusals.count >= 2
    assert active_slots(gpu_class) == 0


def test_occupy_takes_as_many_slots_as_gpus(prefect_server: None) -> None:
    gpu_class = make_limit(3)
    with occupy(gpu_class, 2, timeout=30):
        assert active_slots(gpu_class) == 2
        with pytest.raises(GpuSlotTimeout, match="no 2 free slot"), occupy(gpu_class, 2, timeout=1):
            pytest.fail("got 2 slots of a limit of 3 with 2 taken")
        with occupy(gpu_class, 1, timeout=30):
            assert active_slots(gpu_class) == 3
    assert active_slots(gpu_class) == 0


@pytest.mark.parametrize("ending", [RuntimeError("engine died"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_slots_are_released_whatever_ends_the_block(prefect_server: None, ending: BaseException) -> None:
    gpu_class = make_limit(1)
    with pytest.raises(type(ending)), occupy(gpu_class, 1, timeout=30):
        assert active_slots(gpu_class) == 1
        raise ending
    assert active_slots(gpu_class) == 0
    with occupy(gpu_class, 1, timeout=5):
        pass


@pytest.mark.parametrize("ending", [None, KeyboardInterrupt("ctrl-c")], ids=["normal", "ctrl-c"])
def test_a_server_gone_at_release_does_not_change_how_the_block_ended(
    prefect_server: None, ending: BaseException | None
) -> None:
    """A Ctrl-C can take Prefect's API with it: the trial must still end as interrupted, not as a connection error.
    The slot then stays taken on the (still running) server until its lease lapses."""
    gpu_class = make_limit(1)
    with socket.socket() as sock:  # an address nothing listens on, standing for the server that went away
        sock.bind(("127.0.0.1", 0))
        gone = temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{sock.getsockname()[1]}/api"})
    try:
        with contextlib.ExitStack() as stack:
            if ending is not None:
                stack.enter_context(pytest.raises(KeyboardInterrupt, match="ctrl-c"))
            with occupy(gpu_class, 1, timeout=30):
                gone.__enter__()  # left by the block, so the release finds no server
                if ending is not None:
                    raise ending
    finally:
        gone.__exit__(None, None, None)
    assert active_slots(gpu_class) == 1  # released by the server when the lease lapses, not by us


def test_a_missing_limit_is_an_error_not_a_free_pass(prefect_server: None) -> None:
    missing = f"missing{uuid.uuid4().hex[:6]}"
    with (
        pytest.raises(GpuSlotError, match="does not exist: create it with `servetune pools apply`"),
        occupy(missing, 1, timeout=5),
    ):
        pytest.fail("entered without a limit")


def test_more_slots_than_the_limit_has_is_an_error(prefect_server: None) -> None:
    gpu_class = make_limit(2)
    with pytest.raises(GpuSlotError, match="more than the limit has"), occupy(gpu_class, 4, timeout=5):
        pytest.fail("entered with 4 slots of a limit of 2")


def test_limit_names_and_the_gpu_class_of_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limit_name("h100") == "servetune-gpu-h100"
    assert limit_name(None) == "servetune-cpu"
    monkeypatch.setenv(GPU_CLASS_ENV, "a100")
    assert current_gpu_class() == "a100"
    monkeypatch.delenv(GPU_CLASS_ENV)
    assert current_gpu_class() is None
