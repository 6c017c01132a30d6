"""Settings read the environment when asked, so a worker (or a test) that changes it sees its own values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuning.runtime.settings import data_dir, settings, trial_dir


def test_settings_read_servetune_variables_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", "postgresql+psycopg://u@db/servetune")
    monkeypatch.setenv("SERVETUNE_GPU_CLASS", "a100")
    monkeypatch.setenv("SERVETUNE_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("SERVETUNE_PROCESS_LABEL", "set by servetune for its engines, not a setting")
    now = settings()
    assert now.database_url == "postgresql+psycopg://u@db/servetune"
    assert now.gpu_class == "a100"
    assert now.gpu_lock_dir == tmp_path / "locks"

    monkeypatch.delenv("SERVETUNE_DATABASE_URL")
    assert settings().database_url is None


def test_the_data_dir_is_servetune_home_else_the_xdg_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERVETUNE_HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home"
    assert trial_dir("abc", 7) == tmp_path / "home" / "runs" / "abc" / "trial-007"

    monkeypatch.delenv("SERVETUNE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "servetune"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert data_dir() == tmp_path / "user" / ".local" / "share" / "servetune"
