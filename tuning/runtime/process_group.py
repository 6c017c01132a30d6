"""Child processes in their own process group: started from an argv list, stopped as a group.

Engines fork workers (vLLM's EngineCore and model workers), so stopping only the leader would orphan
them. Each process started here gets a new session, so the group is exactly what servetune started, and
a label in its environment lets a later run recognise it after a crash.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

LABEL_VAR = "SERVETUNE_PROCESS_LABEL"
_POLL_SECONDS = 0.2
# SIGKILL cannot be refused; this only bounds the wait for the kernel to finish tearing processes down.
_KILL_WAIT_SECONDS = 10.0


def start(argv: list[str], log_path: Path, env: Mapping[str, str], label: str, cwd: Path | None = None) -> int:
    """Start ``argv`` (never through a shell) in a new session, output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, LABEL_VAR: label},
            cwd=cwd,
            start_new_session=True,
        )
    _await_label(process, label)
    return process.pid


def _await_label(process: subprocess.Popen[bytes], label: str) -> None:
    """Return once the new process's label can be read, so a sweep run right after ``start`` sees it.

    Popen returns when exec has passed the point of no return, but the kernel fills in the new
    environment a moment later: until then ``/proc/PID/environ`` reads empty.
    """
    deadline = time.monotonic() + _KILL_WAIT_SECONDS
    while label_of(process.pid) != label and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def _reap(pid: int) -> int | None:
    """Collect the leader's exit status if it is our child and has exited; its return code, else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if done == pid else None


def members(pgid: int) -> list[int]:
    """PIDs whose process group is ``pgid`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state, ppid, pgrp, ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def label_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for item in environ.split(b"\0"):
        if item.startswith(LABEL_VAR.encode() + b"="):
            return item.split(b"=", 1)[1].decode(errors="replace")
    return None


def labelled(prefix: str = "") -> dict[int, str]:
    """Process-group leaders ids -> label, for every live process carrying a label starting with ``prefix``."""
    groups: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        label = label_of(int(entry.name))
        if label is not None and label.startswith(prefix):
            try:
                groups.setdefault(os.getpgid(int(entry.name)), label)
            except ProcessLookupError:
                continue
    return groups


def pid_gone(pid: str | int) -> bool:
    """True when no process with this PID exists on this machine; a malformed PID counts as gone.

    How servetune tells an orphan (its owning servetune process died) from a sibling run's live resource.
    """
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False
    return False


def owner_id() -> str:
    """This process as the owner of what it starts: ``host/pid``, written into labels and trial rows."""
    return f"{socket.gethostname()}/{os.getpid()}"


def owner_gone(owner: str) -> bool:
    """True when ``owner`` (an :func:`owner_id`) ran on this host and has ended; another host's: unknown, False."""
    host, _, pid = owner.rpartition("/")
    return host == socket.gethostname() and pid_gone(pid)


def is_running(pgid: int) -> bool:
    _reap(pgid)
    return bool(members(pgid))


def exit_code(pid: int) -> int | None:
    """The leader's exit code once it has exited (when it is our child), else None."""
    return _reap(pid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop(pgid: int, label: str, grace: float) -> bool:
    """SIGTERM the group, then SIGKILL what is left after ``grace`` seconds; True if anything was running.

    Only a group that still holds a process carrying ``label`` is signalled, so a recycled PID is never hit.
    """
    _reap(pgid)
    pids = members(pgid)
    if not pids or not any(label_of(pid) == label for pid in pids):
        return False
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pgid)
        if not members(pgid):
            return True
        time.sleep(_POLL_SECONDS)
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + _KILL_WAIT_SECONDS
    while members(pgid) and time.monotonic() < deadline:
        _reap(pgid)
        time.sleep(_POLL_SECONDS)
    return True


def tail(path: Path, lines: int = 60, max_bytes: int = 1 << 20) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist), reading at most ``max_bytes``."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            start, block = end, 8192
            data = b""
            # Read backwards until enough lines are in hand; engine logs have very long lines (config dumps).
            while start > 0 and data.count(b"\n") <= lines and end - start < max_bytes:
                start = max(0, start - block)
                handle.seek(start)
                data = handle.read(end - start)
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])
