"""Which failures a task retries: only those a fresh attempt can fix."""

from __future__ import annotations

from typing import Any

from prefect.states import State

from deployers import TransientDeployError


def retry_if_transient(task: Any, task_run: Any, state: State) -> bool:
    try:
        state.result()
    except TransientDeployError:
        return True
    except BaseException:
        return False
    return False
