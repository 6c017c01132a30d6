"""The user's own prompts: a local file (JSONL, JSON, CSV or text), a Hugging Face dataset, or a genai-bench
dataset config.

genai-bench 0.0.5 reads text files, CSV and a JSON list of strings, and takes empty prompts from a CSV whose prompt
column is not named. servetune reads every local format itself (:func:`read_prompts`) and hands genai-bench one
JSON list of prompts, so each format means the same to it, and ``servetune validate`` reports a bad file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tuning.spec._base import NonEmptyStr, StrictModel, resolve_path

# Files by their suffix; any other path is taken as a Hugging Face dataset id.
DATASET_SUFFIXES = (".jsonl", ".json", ".csv", ".txt")
DEFAULT_PROMPT_COLUMN = "prompt"


def looks_local(path: str) -> bool:
    return path.startswith(("/", "./", "../", "~")) or path.lower().endswith(DATASET_SUFFIXES)


class DatasetError(ValueError):
    """A prompt file that cannot be read as its format says; the message names the file and the line or row."""


class DatasetSpec(StrictModel):
    """Where the prompts come from instead of genai-bench's built-in text."""

    path: NonEmptyStr | None = Field(
        default=None,
        description="A local file of prompts, or a Hugging Face dataset id. JSONL: one object per line, the "
        "prompt under `prompt_column` (or one JSON string per line); JSON: a list of such objects or strings; "
        "CSV: a header row and a `prompt_column` column; text: one prompt per line. With a `D`, `N` or `U` traffic "
        "scenario genai-bench cuts and joins prompts to the scenario's token counts; the `dataset` scenario "
        "sends each prompt as it is.",
        examples=["./prompts.jsonl", "./chats.csv"],
    )
    prompt_column: NonEmptyStr | None = Field(
        default=None,
        description=f"The column (CSV) or key (JSONL, JSON) that holds the prompt. Default: {DEFAULT_PROMPT_COLUMN!r}.",
        examples=["prompt", "question"],
    )
    config: NonEmptyStr | None = Field(
        default=None,
        description="A genai-bench dataset configuration (JSON file) for what `path` cannot say: Hugging Face "
        "splits, revisions, prompt templates. Replaces `path` and `prompt_column`.",
    )

    @field_validator("path", "config")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        """As every spec path; and a bare relative file name (``data/prompts.jsonl``) is also read from the spec
        file's folder, as a user means it, not from wherever servetune happens to run."""
        base = (info.context or {}).get("base_dir")
        bare = value is not None and looks_local(value) and not value.startswith(("/", "~", "./", "../"))
        if bare and base is not None:
            return os.path.normpath(os.path.join(base, str(value)))
        return resolve_path(value, info)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.path is None) == (self.config is None):
            raise ValueError(
                "give the prompts as either path (a file or dataset id) or config (a JSON file), not "
                + ("both" if self.path else "neither")
            )
        if self.config is not None and self.prompt_column is not None:
            raise ValueError("prompt_column goes inside the dataset config file when config is given")
        return self

    @property
    def local_file(self) -> Path | None:
        return Path(self.path) if self.path is not None and looks_local(self.path) else None

    def missing_files(self) -> list[str]:
        """What is wrong with the local files named here, each problem naming its field."""
        if self.config is not None and not Path(self.config).is_file():
            return [f"benchmark.dataset.config: no such file: {self.config}"]
        if (file := self.local_file) is None:
            return []
        if not file.is_file():
            return [f"benchmark.dataset.path: no such file: {file}"]
        try:
            read_prompts(self)
        except DatasetError as exc:
            return [f"benchmark.dataset.path: {exc}"]
        return []


def _prompt_of(item: Any, column: str, where: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get(column), str):
        return str(item[column])
    found = f"keys {sorted(item)[:8]}" if isinstance(item, dict) else type(item).__name__
    raise DatasetError(f"{where}: no string under {column!r} (found {found}); set benchmark.dataset.prompt_column")


def read_prompts(dataset: DatasetSpec) -> list[str]:
    """The prompts of a local dataset file, in file order; a DatasetError names the file and where it went wrong."""
    file = dataset.local_file
    if file is None:
        raise DatasetError(f"{dataset.path or dataset.config} is not a local file")
    column = dataset.prompt_column or DEFAULT_PROMPT_COLUMN
    suffix = file.suffix.lower()
    try:
        text = file.read_text(encoding="utf-8-sig")  # a byte-order mark (spreadsheet exports) is not a column
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{file}: cannot be read as UTF-8 text ({exc})") from None
    if suffix == ".jsonl":
        prompts = []
        # JSON strings may hold U+2028 and other characters str.splitlines() would split on: lines end at "\n".
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{file} line {number}: not JSON ({exc.msg})") from None
                prompts.append(_prompt_of(item, column, f"{file} line {number}"))
    elif suffix == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{file}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(items, list):
            raise DatasetError(f"{file}: expected a JSON list of prompts, found {type(items).__name__}")
        prompts = [_prompt_of(item, column, f"{file} item {i}") for i, item in enumerate(items, start=1)]
    elif suffix == ".csv":
        rows = csv.DictReader(io.StringIO(text, newline=""))  # keeps the line breaks inside quoted prompts
        if column not in (rows.fieldnames or []):
            raise DatasetError(f"{file}: no column {column!r} (columns: {rows.fieldnames}); set prompt_column")
        prompts = [row[column] or "" for row in rows]  # a short row has no cell there: no prompt
    else:
        prompts = [line.strip() for line in text.splitlines()]
    prompts = [p for p in prompts if p.strip()]
    if not prompts:
        raise DatasetError(f"{file}: holds no prompt")
    return prompts
