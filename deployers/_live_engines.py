"""The engines this process started and has not stopped yet, each with how to stop it.

A deployer registers what it starts and unregisters it at teardown. One exit hook stops whatever is still
registered when the interpreter exits without the flow's own cleanup having run (a second Ctrl-C during
cleanup, an error inside Prefect); the next run's sweep catches what even this misses (a SIGKILL).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LIVE: dict[str, Callable[[], object]] = {}


def register(key: str, stop: Callable[[], object]) -> None:
    """Remember an engine (or a resource serving one) under ``key``, a name unique in this process."""
    with _LOCK:
        _LIVE[key] = stop


def unregister(key: str) -> bool:
    """Forget ``key`` without stopping it (it has been stopped); True if it was registered."""
    with _LOCK:
        return _LIVE.pop(key, None) is not None


def stop(key: str) -> bool:
    """Stop and forget ``key``; True if it was registered. The stop's own errors reach the caller."""
    with _LOCK:
        stopper = _LIVE.pop(key, None)
    if stopper is None:
        return False
    stopper()
    return True


def registered() -> list[str]:
    with _LOCK:
        return list(_LIVE)


def stop_all() -> list[str]:
    """Stop everything still registered, last started first; returns the keys stopped. Never raises."""
    stopped = []
    for key in reversed(registered()):
        try:
            if stop(key):
                stopped.append(key)
        except Exception as exc:  # one engine's failure must not leave the others running
            log.warning("could not stop %s at exit: %s", key, exc)
    return stopped


atexit.register(stop_all)
