"""What every spec model shares: strict models, parameter values, engine flag names, and paths.

Every model forbids unknown keys, so a misspelt field is an error that names it rather than a silently
ignored setting.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"a parameter value must be a number, a string or true/false, not {value!r}")


# Kept as the exact Python type end to end: bool becomes a bare flag, numbers and strings separate argv items.
ParamValue = Annotated[bool | int | float | str, BeforeValidator(_scalar)]
Configuration = dict[str, bool | int | float | str]

_FLAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
RUN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_flag_name(name: str) -> str:
    """The flag's canonical spelling: engines accept ``max_num_seqs`` for ``max-num-seqs``; servetune keeps one."""
    if name.startswith("-"):
        raise ValueError(f"write the engine flag without leading dashes: {name.lstrip('-')!r}, not {name!r}")
    if not _FLAG_NAME.match(name):
        raise ValueError(f"{name!r} is not an engine flag name (letters, digits, '-', '_' and '.')")
    return name.replace("_", "-")


def canonical_flags(flags: dict[str, Any]) -> dict[str, Any]:
    canonical: dict[str, Any] = {}
    for name, value in flags.items():
        key = _check_flag_name(name)
        if key in canonical:
            raise ValueError(f"{name!r} is the same flag as {key!r}, given twice")
        canonical[key] = value
    return canonical


def resolve_path(value: str | None, info: ValidationInfo) -> str | None:
    """Expand ``~``; make ``./`` and ``../`` paths absolute against the spec file's folder, when there is one.

    Anything else is left as written: ``org/model`` is a hub id, not a relative path. Symlinks are kept, so
    a linked model folder keeps its own name.
    """
    if value is None:
        return None
    if value.startswith("~"):
        return os.path.expanduser(value)
    base = (info.context or {}).get("base_dir")
    if value.startswith(("./", "../")) or value in (".", ".."):
        return os.path.normpath(os.path.join(base or os.getcwd(), value))
    return value
