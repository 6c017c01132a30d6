"""The ``servetune`` command."""

from tuning.cli._app import main

__all__ = ["main"]
