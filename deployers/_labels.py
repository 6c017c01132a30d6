"""What every engine servetune starts is labelled with: its run, its trial and its owner.

One set of keys and one owner identity (``host/pid``, :func:`tuning.runtime.process_group.owner_id`) for every
deployer. The local deployer writes them into the engine's process label, Docker as container labels, OME as
Kubernetes labels (escaped to what Kubernetes accepts) and annotations (exact). A sweep reads them back to
tell an orphan, whose owner has ended, from the live engine of a sibling run.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from tuning.runtime import process_group

RUN = "servetune.run"
TRIAL = "servetune.trial"
OWNER = "servetune.owner"

# servetune/<run>/trial-<n>/<host>/<pid>, and what a benchmark started for that trial appends (/genai-bench).
# The previous release wrote the owner as a bare PID of this host.
_PROCESS_LABEL = re.compile(r"^servetune/(?P<run>[^/]+)/trial-(?P<trial>\d+)/(?P<owner>(?:[^/]+/)?\d+)(?:/.*)?$")


class EngineLabels(BaseModel):
    """The run, trial and owner of one engine."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    trial_number: int
    owner: str = Field(default_factory=process_group.owner_id)

    @property
    def name(self) -> str:
        """The trial's engine as people read it: ``servetune/<run>/trial-<n>``."""
        return f"servetune/{self.run_id}/trial-{self.trial_number}"

    def as_dict(self) -> dict[str, str]:
        """The labels as a string map: Docker's container labels, and Kubernetes' once escaped."""
        return {RUN: self.run_id, TRIAL: str(self.trial_number), OWNER: self.owner}

    def process_label(self) -> str:
        """The label an engine process carries in its environment (:data:`process_group.LABEL_VAR`)."""
        return f"{self.name}/{self.owner}"

    @classmethod
    def from_dict(cls, labels: Mapping[str, str], owner: str | None = None) -> EngineLabels | None:
        """Read back :meth:`as_dict` (``owner`` overrides the map's, when the map holds an escaped copy);
        None when a key is missing or malformed."""
        owner = owner if owner is not None else labels.get(OWNER)
        trial = labels.get(TRIAL, "")
        if RUN not in labels or owner is None or not trial.isdigit():
            return None
        return cls(run_id=labels[RUN], trial_number=int(trial), owner=owner)

    @classmethod
    def from_process_label(cls, label: str) -> EngineLabels | None:
        match = _PROCESS_LABEL.match(label)
        if match is None:
            return None
        owner = match["owner"]
        if "/" not in owner:
            owner = f"{socket.gethostname()}/{owner}"
        return cls(run_id=match["run"], trial_number=int(match["trial"]), owner=owner)

    def orphaned(self) -> bool:
        """True when the owner ran on this machine and has ended; another machine's owner counts as alive."""
        return process_group.owner_gone(self.owner)
