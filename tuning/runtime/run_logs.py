"""servetune's own loggers in Prefect's run logs, so what a deployer logs (image pulled, container started,
InferenceService created) shows with the flow run in the Prefect UI.

Prefect attaches its API log handler to the loggers named in ``PREFECT_LOGGING_EXTRA_LOGGERS`` when it sets up
logging, once, as it is first imported. So every process that runs flows names servetune's loggers there before
that: the CLI calls ``attach_to_prefect()`` first thing; a worker's flow runs get the variable from their
deployments' job variables (``prefect.yaml``). Prefect leaves those loggers at the root's level (WARNING), so
``attach_to_prefect()`` also lets them speak at INFO; ``flows`` calls it too, for the flow runs a worker starts.
"""

from __future__ import annotations

import logging
import os

EXTRA_LOGGERS_ENV = "PREFECT_LOGGING_EXTRA_LOGGERS"
# The top-level packages whose module loggers (``logging.getLogger(__name__)``) carry servetune's messages, and
# ``servetune.*``, loggers named for what they report rather than their module.
LOGGERS = ("tuning", "flows", "tasks", "deployers", "benchmarks", "servetune")


def extra_loggers(current: str | None) -> str:
    """``PREFECT_LOGGING_EXTRA_LOGGERS``'s value: the user's loggers first, then servetune's not among them."""
    names = [name.strip() for name in (current or "").split(",") if name.strip()]
    return ",".join(names + [name for name in LOGGERS if name not in names])


def attach_to_prefect() -> None:
    """Send servetune's log records at INFO and above to the Prefect run they happen in (effective for the
    handler when called before Prefect is imported; for the level, at any time)."""
    os.environ[EXTRA_LOGGERS_ENV] = extra_loggers(os.environ.get(EXTRA_LOGGERS_ENV))
    # Outside a run (`servetune sweep`) the records have no run to go to; Prefect would warn about each one.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # a level the user set stays
            logger.setLevel(logging.INFO)
