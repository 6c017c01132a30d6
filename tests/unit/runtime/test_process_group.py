"""Engine processes as groups: started without a shell, found by label, stopped with their children.

Every process here is a real child of the test, labelled uniquely, and stopped by that label on teardown.
"""

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from tuning.runtime import process_group

WRITE_PID = """
import os, pathlib
def write_pid(path):
    tmp = pathlib.Path(path + ".tmp")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, path)
"""

# argv: pid file
SLEEPER = (
    WRITE_PID
    + """
import sys, time
write_pid(sys.argv[1])
time.sleep(300)
"""
)

# argv: own pid file, grandchild's pid file
PARENT = (
    WRITE_PID
    + f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {SLEEPER!r}, sys.argv[2]])
write_pid(sys.argv[1])
time.sleep(300)
"""
)

# argv: pid file
IGNORES_SIGTERM = (
    WRITE_PID
    + """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
write_pid(sys.argv[1])
time.sleep(300)
"""
)


def wait_for(condition, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def wait_for_exit(pid, timeout=30.0):
    """The leader's exit code, once it has exited (exit_code reaps it, so it answers only once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process_group.exit_code(pid)
        if code is not None:
            return code
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for process {pid} to exit")


def read_pid(path: Path) -> int:
    return int(wait_for(lambda: path.exists() and path.read_text(), f"{path.name}"))


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def start(tmp_path):
    """Start a labelled group; every group started is stopped (by its label) when the test ends."""
    started = []

    def _start(*args, label=None, log=None):
        label = label or f"servetune-test-{uuid.uuid4().hex}"
        argv = [sys.executable, "-c", *args]
        pid = process_group.start(argv, log or tmp_path / "engine.log", dict(os.environ), label)
        started.append((pid, label))
        return pid, label

    yield _start
    for pid, label in started:
        process_group.stop(pid, label, grace=2.0)


@pytest.fixture
def family(start, tmp_path):
    """A leader that has spawned a grandchild; both are running when the fixture returns."""
    pid, label = start(PARENT, str(tmp_path / "parent.pid"), str(tmp_path / "child.pid"))
    parent, child = read_pid(tmp_path / "parent.pid"), read_pid(tmp_path / "child.pid")
    assert parent == pid
    return pid, label, child


def test_stop_ends_the_leader_and_its_grandchild(family):
    pgid, label, child = family
    assert alive(pgid) and alive(child)
    assert process_group.is_running(pgid)

    assert process_group.stop(pgid, label, grace=10.0) is True

    assert not alive(pgid)
    wait_for(lambda: not alive(child), "the grandchild to be gone", timeout=10.0)
    assert not process_group.is_running(pgid)


def test_stop_returns_well_before_the_grace_when_the_group_obeys_sigterm(start, tmp_path):
    pid, label = start(SLEEPER, str(tmp_path / "sleeper.pid"))
    read_pid(tmp_path / "sleeper.pid")

    began = time.monotonic()
    assert process_group.stop(pid, label, grace=30.0) is True

    assert time.monotonic() - began < 10.0
    assert not alive(pid)


def test_process_ignoring_sigterm_is_killed_after_the_grace(start, tmp_path):
    pid, label = start(IGNORES_SIGTERM, str(tmp_path / "stubborn.pid"))
    read_pid(tmp_path / "stubborn.pid")  # written after SIGTERM is ignored
    grace = 1.0

    began = time.monotonic()
    assert process_group.stop(pid, label, grace=grace) is True

    assert time.monotonic() - began >= grace
    assert not alive(pid)


def test_stop_with_a_different_label_signals_nothing(family):
    pgid, label, child = family

    assert process_group.stop(pgid, "servetune-test-someone-else", grace=1.0) is False

    assert alive(pgid) and alive(child)
    assert process_group.stop(pgid, label, grace=10.0) is True
    assert not alive(pgid)


def test_stop_is_idempotent(start, tmp_path):
    pid, label = start(SLEEPER, str(tmp_path / "sleeper.pid"))
    read_pid(tmp_path / "sleeper.pid")

    assert process_group.stop(pid, label, grace=10.0) is True
    assert process_group.stop(pid, label, grace=10.0) is False


def test_labelled_finds_the_group_by_label_prefix(family):
    pgid, label, _ = family
    prefix = label.rsplit("-", 1)[0]
    assert label.startswith(prefix)

    assert process_group.labelled(label) == {pgid: label}
    assert process_group.labelled(prefix).get(pgid) == label
    assert pgid not in process_group.labelled(f"servetune-test-{uuid.uuid4().hex}")


def test_a_group_is_found_by_its_label_as_soon_as_start_returns(tmp_path):
    """A sweep run right after a start must see the new engine; the kernel fills in a new process's
    environment just after exec, so without waiting for it the label sometimes read as missing."""
    script = tmp_path / "engine"
    script.write_text("#!/bin/sh\nsleep 300\n")
    script.chmod(0o755)
    for attempt in range(100):
        label = f"servetune-test-{uuid.uuid4().hex}"
        pid = process_group.start([str(script)], tmp_path / "engine.log", {}, label)
        try:
            assert process_group.label_of(pid) == label, f"attempt {attempt}"
        finally:
            process_group.stop(pid, label, grace=2.0)


def test_labelled_forgets_a_stopped_group(family):
    pgid, label, child = family

    process_group.stop(pgid, label, grace=10.0)
    wait_for(lambda: not alive(child), "the grandchild to be gone", timeout=10.0)

    assert process_group.labelled(label) == {}


def test_output_is_appended_to_the_log_and_tail_returns_the_last_lines(start, tmp_path):
    log = tmp_path / "logs" / "engine.log"
    log.parent.mkdir()
    log.write_text("previous run\n")
    script = (
        "import sys\n"
        "for i in range(1, 101):\n"
        "    print(f'line {i}')\n"
        "sys.stdout.flush()\n"
        "print('to stderr', file=sys.stderr)\n"
    )

    pid, _ = start(script, log=log)

    assert wait_for_exit(pid) == 0
    text = log.read_text()
    assert text.startswith("previous run\n")
    assert "line 1\n" in text and "to stderr" in text
    assert process_group.tail(log, 3) == "line 99\nline 100\nto stderr"


def test_exit_code_reports_how_the_leader_ended(start, tmp_path):
    pid, _ = start("import sys; sys.exit(3)")

    assert wait_for_exit(pid) == 3


def test_tail_of_a_missing_log_is_empty(tmp_path):
    assert process_group.tail(tmp_path / "never-written.log") == ""


def test_tail_returns_whole_lines_even_when_they_are_long(tmp_path):
    log = tmp_path / "engine.log"
    lines = [f"{i}:" + "x" * 1000 for i in range(5)]
    log.write_text("\n".join(lines) + "\n")

    assert process_group.tail(log, 2) == "\n".join(lines[-2:])


def test_arguments_are_passed_literally_never_through_a_shell(start, tmp_path):
    log = tmp_path / "echo.log"
    marker = tmp_path / "injected"
    argument = f"; touch {marker}; echo $(touch {marker}) `touch {marker}` && touch {marker}"

    pid, _ = start("import sys; print(sys.argv[1])", argument, log=log)
    assert wait_for_exit(pid) == 0

    assert log.read_text() == argument + "\n"
    assert not marker.exists()
