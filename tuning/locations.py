"""Where servetune keeps its files when the user has not said otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """``$SERVETUNE_HOME``, else the XDG data directory (``~/.local/share/servetune``)."""
    if home := os.environ.get("SERVETUNE_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "servetune"


def trial_dir(run_id: str, number: int) -> Path:
    """Folder of one trial's engine log and benchmark results."""
    return data_dir() / "runs" / run_id / f"trial-{number:03d}"
