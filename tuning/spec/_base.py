"""What every spec model shares: strict models, parameter values, engine flag names, and paths.

Every model forbids unknown keys, so a misspelt field is an error that names it rather than a silently
ignored setting.
"""

from __future__ import annotations

import os
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator


def _numbers_only(annotation: Any) -> bool:
    """Whether a field takes numbers (or lists of them) and no yes/no: ``int``, ``float | None``, ``list[int]``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _numbers_only(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return bool(members) and all(_numbers_only(a) for a in members)
    if origin is list:
        return _numbers_only(get_args(annotation)[0])
    return annotation in (int, float)


def _has_yes_no(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, list) and any(isinstance(v, bool) for v in value))


class StrictModel(BaseModel):
    # NaN and infinity compare false with everything: a limit or a value of either would silently never hold.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_yes_no_for_numbers(cls, data: Any) -> Any:
        """Pydantic reads `true` as 1 where a number is meant; `max_requests_per_run: true` is a slip, not 1."""
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if _has_yes_no(data.get(key)) and _numbers_only(field.annotation):
                    raise ValueError(f"{key}: {data[key]!r} is true/false, and {key} takes a number")
        return data


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"a parameter value must be a number, a string or true/false, not {value!r}")


# Kept as the exact Python type end to end: bool becomes a bare flag, numbers and strings separate argv items.
ParamValue = Annotated[bool | int | float | str, BeforeValidator(_scalar)]
Configuration = dict[str, bool | int | float | str]


def _not_blank(value: str) -> str:
    # An empty path or name is not "unset" (that is null, or leaving the field out): it would reach the engine.
    if not value.strip():
        raise ValueError("must not be empty; leave the field out to use its default")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_not_blank)]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not an environment variable name (letters, digits and '_', not first a digit)")
    return name


EnvName = Annotated[str, AfterValidator(_env_name)]

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


_SECRET_WORDS = (
    {"token"},
    {"secret"},
    {"password"},
    {"credential"},
    {"credentials"},
    {"api", "key"},
    {"access", "key"},
)


def is_secret_flag(name: str) -> bool:
    """``api-key``, ``hf-token``, ``ssl-keyfile-password``: a flag whose value is a secret (``max-num-batched-tokens``
    is not)."""
    words = set(name.lower().replace("_", "-").split("-"))
    return any(secret <= words for secret in _SECRET_WORDS)


# The shapes of well-known credentials (Hugging Face, OpenAI-style, GitHub, AWS, Slack tokens; JWTs): a value like
# these is a secret whatever flag or variable it is given to.
_SECRET_VALUE = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)"
)
_PASS_ENV_HINT = (
    "give it through an environment variable named in engine.pass_env instead (vLLM reads its API key from "
    "VLLM_API_KEY)"
)


def looks_like_secret(value: object) -> bool:
    """Whether ``value`` has the shape of a credential; never shown in a message, which would leak it."""
    return isinstance(value, str) and _SECRET_VALUE.search(value) is not None


def _texts(value: Any) -> list[str]:
    # A flag's value, or a search-space dimension's listed values.
    listed = getattr(value, "values", None)
    values = listed if isinstance(listed, list) else [value]
    return [item for item in values if isinstance(item, str)]


def canonical_flags(flags: dict[str, Any]) -> dict[str, Any]:
    canonical: dict[str, Any] = {}
    for name, value in flags.items():
        key = _check_flag_name(name)
        texts = _texts(value)
        if is_secret_flag(key) and texts:  # a true/false flag carries no secret
            raise ValueError(
                f"{name!r} takes a secret, and a flag's value is printed in the engine command and stored with each "
                f"trial; {_PASS_ENV_HINT}"
            )
        if any(looks_like_secret(text) for text in texts):
            raise ValueError(
                f"the value of {name!r} looks like a credential (a token or key), and a flag's value is printed in "
                f"the engine command and stored with each trial; {_PASS_ENV_HINT}"
            )
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
