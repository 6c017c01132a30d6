"""The root of servetune's own errors: each says what went wrong in words a user can act on, and carries the
exit code the ``servetune`` command ends with, so no user error ends in a traceback."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    ok = 0
    failed = 1  # the run ran, and every trial failed
    bad_input = 2  # the spec, a file or an option is wrong; nothing was started
    not_found = 3  # a run, target or engine environment that does not exist
    no_feasible = 4  # trials ran, and none met every hard SLO
    interrupted = 130  # Ctrl-C or SIGTERM


class ServetuneError(Exception):
    """An error a user can fix or must know about; its message is the whole story, without a traceback."""

    exit_code: ExitCode = ExitCode.failed


class UserInputError(ServetuneError, ValueError):
    """The input is wrong: a spec, a file, an option."""

    exit_code = ExitCode.bad_input


class NotFound(ServetuneError, LookupError):
    """Something named does not exist."""

    exit_code = ExitCode.not_found


class MissingExtra(UserInputError, ImportError):
    """An optional feature's packages are not installed; the message names the extra that brings them."""
