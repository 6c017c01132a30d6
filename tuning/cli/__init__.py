"""The ``servetune`` command."""

from tuning.cli._main import main

__all__ = ["main"]
