"""servetune's settings: every ``SERVETUNE_*`` environment variable, read in this one place.

Settings are read when asked for, not at import, so a worker started with other variables (or a test that sets
them) sees its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVETUNE_", extra="ignore", frozen=True)

    home: Path | None = Field(
        default=None,
        description="Where servetune keeps its database, engine logs and results. Defaults to the XDG data "
        "directory, `~/.local/share/servetune`.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database, such as `postgresql+psycopg://user@host/servetune`. "
        "Defaults to a SQLite file under `home`.",
    )
    gpu_class: str | None = Field(
        default=None,
        description="The GPU class of the work pool this worker serves; set by the pool's job template.",
    )
    gpu_lock_dir: Path | None = Field(
        default=None, description="Folder of the per-GPU lock files that keep two trials off one GPU."
    )

    @property
    def data_dir(self) -> Path:
        if self.home is not None:
            return self.home.expanduser()
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "servetune"


def settings() -> Settings:
    """The settings as the environment says now."""
    return Settings()


def data_dir() -> Path:
    """``SERVETUNE_HOME``, else the XDG data directory (``~/.local/share/servetune``)."""
    return settings().data_dir


def trial_dir(run_id: str, number: int) -> Path:
    """Folder of one trial's engine log and benchmark results."""
    return data_dir() / "runs" / run_id / f"trial-{number:03d}"
