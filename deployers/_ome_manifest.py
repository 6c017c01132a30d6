"""OME manifests: rendered from jinja2 templates whose every value is written as an escaped YAML scalar, so a
flag value cannot break the document; plus the names and label values Kubernetes accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

from deployers._base import DeployError

#: OME names the engine's Deployment and Service ``<name>-engine``; names leave room for that suffix.
MAX_NAME = 63 - len("-engine")


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar of ``text``: every character outside printable ASCII is escaped."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def yaml_value(value: Any) -> str:
    """``value`` as a YAML flow value that parses back to exactly ``value``: the template's only output."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _yaml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"manifest map keys must be strings: {list(value)!r}")
        return "{" + ", ".join(f"{_yaml_string(k)}: {yaml_value(v)}" for k, v in value.items()) + "}"
    # Floats are left out on purpose: PyYAML reads 1e-05 as a string. Numbers reach the manifest as strings.
    raise TypeError(f"cannot write {type(value).__name__} {value!r} into a manifest; pass a string")


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined,
    finalize=yaml_value,
    autoescape=False,
    keep_trailing_newline=True,
)


def render(template: str, **values: Any) -> dict[str, Any]:
    """Render ``templates/<template>`` with ``values`` and parse it: the manifest as the API server gets it."""
    manifest = yaml.safe_load(_TEMPLATES.get_template(template).render(**values))
    if not isinstance(manifest, dict):
        raise DeployError(f"{template} did not render to a mapping")
    return manifest


def _dns_part(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def resource_name(run_name: str, run_id: str, trial_number: int) -> str:
    """The trial's InferenceService name: a DNS-1035 label of at most ``MAX_NAME`` characters, unique per
    run and trial (``<run name>-<run id>-t<trial>``, the run name shortened to fit)."""
    suffix = f"-{_dns_part(run_id)[:12].strip('-') or 'run'}-t{trial_number}"
    base = _dns_part(run_name)
    if not base[:1].isalpha():
        base = f"st-{base}".rstrip("-")
    return base[: MAX_NAME - len(suffix)].rstrip("-") + suffix


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value (at most 63 of ``[A-Za-z0-9._-]``, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def kube_escape(text: str) -> str:
    # Kubernetes expands $(VAR) in command, args and env values, and reads $$ as $: doubling every $ makes
    # the container receive the text as written.
    return text.replace("$", "$$")
