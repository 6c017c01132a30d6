"""Named, versioned search spaces shipped with servetune, and how a spec's `search_space` merges them.

A preset is a YAML file in ``tuning/spec/presets/``: its name, the engine whose flags it names, its own version,
a description, and its entries in the form of `search_space`. Each is checked against the engine's own parser in
the tests, so a preset that an engine release stops accepting fails there, not in a user's run.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from tuning.spec._base import StrictModel, canonical_flags
from tuning.spec._engine import EngineName
from tuning.spec._search import Dimension

PRESET_KEY = "preset"

MERGE_RULE = (
    "`preset` names one preset or a list of them (`servetune presets ENGINE` lists them; each must be for "
    "`engine.name`). They are merged left to right: a later preset's entry replaces an earlier one's for the same "
    "flag. The spec's own entries then replace preset entries, and an entry set to `null` removes that flag from "
    "the merged space; a flag fixed in `engine.args` is dropped from the presets' entries too. The merged space is "
    "what the run searches, and `search_space_presets` records the presets used."
)


class Preset(StrictModel):
    """One named search space for one engine."""

    name: str = Field(description="What a spec writes after `preset:`, starting with the engine's name.")
    engine: EngineName
    version: int | str = Field(description="The preset's own version: raised whenever its entries change.")
    description: str
    entries: dict[str, Dimension] = Field(min_length=1)

    @field_validator("entries")
    @classmethod
    def _flag_names(cls, entries: dict[str, Dimension]) -> dict[str, Dimension]:
        return canonical_flags(entries)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


class PresetFileError(Exception):
    """A preset file shipped with servetune is broken: a bug of the package, not of the user's spec."""


@cache
def presets() -> dict[str, Preset]:
    """Every preset shipped with servetune, by name, in name order."""
    found: dict[str, Preset] = {}
    folder = resources.files("tuning.spec").joinpath("presets")
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not item.name.endswith(".yaml"):
            continue
        try:
            preset = Preset.model_validate(yaml.safe_load(item.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as exc:
            raise PresetFileError(f"preset file {item.name} is broken: {exc}") from exc
        if f"{preset.name}.yaml" != item.name:
            raise PresetFileError(f"preset file {item.name} names itself {preset.name!r}")
        found[preset.name] = preset
    return found


def presets_for(engine: str) -> list[Preset]:
    return [preset for preset in presets().values() if preset.engine.value == engine]


def _named(given: Any) -> list[str]:
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"search_space.preset: expected a preset name or a list of them, not {given!r}")
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValueError(f"search_space.preset: {name!r} is named twice")
    return names


def _preset(name: str, engine: str) -> Preset:
    fitting = ", ".join(preset.name for preset in presets_for(engine)) or "none"
    known = presets().get(name)
    if known is None:
        raise ValueError(
            f"search_space.preset: {name!r} is not a preset; known presets: {', '.join(presets())} "
            "(`servetune presets` lists their entries)"
        )
    if known.engine.value != engine:
        raise ValueError(
            f"search_space.preset: {name!r} is a preset for {known.engine.value}, and engine.name is {engine}; "
            f"presets for {engine}: {fitting}"
        )
    return known


def _engine_name(engine: Any) -> str | None:
    if engine is None:
        return EngineName.vllm.value
    name = engine.get("name", EngineName.vllm) if isinstance(engine, dict) else getattr(engine, "name", None)
    value = getattr(name, "value", name)
    return value if value in {e.value for e in EngineName} else None


def _fixed_flags(engine: Any) -> set[str]:
    args = engine.get("args") if isinstance(engine, dict) else getattr(engine, "args", None)
    return {str(name).replace("_", "-") for name in args} if isinstance(args, dict) else set()


def merge_presets(data: dict[str, Any]) -> dict[str, Any]:
    """The spec's data with `search_space.preset` replaced by the merged space (see ``MERGE_RULE``), and the
    presets used recorded in `search_space_presets`. Data without a preset, or without nulls, is returned as is."""
    space = data.get("search_space")
    if not isinstance(space, dict) or (PRESET_KEY not in space and not any(v is None for v in space.values())):
        return data
    own = {key: value for key, value in space.items() if key != PRESET_KEY}
    if PRESET_KEY not in space:
        removed = sorted(str(key) for key, value in own.items() if value is None)
        raise ValueError(
            f"search_space.{removed[0]}: null removes a preset's entry, and search_space names no preset; "
            "give a list of values or a range"
        )
    if "search_space_presets" in data:
        raise ValueError("search_space_presets: servetune records it from search_space.preset; leave it out")
    engine = _engine_name(data.get("engine"))
    if engine is None:  # engine.name's own validation names the mistake
        return {**data, "search_space": own}
    chosen = [_preset(name, engine) for name in _named(space[PRESET_KEY])]
    merged: dict[str, Any] = {}
    for preset in chosen:
        merged.update(preset.entries)
    fixed = _fixed_flags(data.get("engine"))
    merged = {flag: dimension for flag, dimension in merged.items() if flag not in fixed}
    for key, value in own.items():
        flag = str(key).replace("_", "-")
        if value is not None:
            merged[flag] = value
        elif flag in merged:
            del merged[flag]
        else:
            raise ValueError(
                f"search_space.{key}: null removes a preset's entry, and no preset named "
                f"({', '.join(p.name for p in chosen)}) has {flag}"
            )
    return {**data, "search_space": merged, "search_space_presets": [preset.label for preset in chosen]}
