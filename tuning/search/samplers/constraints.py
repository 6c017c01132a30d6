"""What servetune keeps on a study besides values: hard-SLO constraints and abandoned trials.

Optuna 5 samplers read a trial's constraints from the trial itself (``Trial.set_constraint``), so no sampler is
given a ``constraints_func``; servetune also keeps them as a user attribute to reuse for a repeated configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

from optuna.trial import FrozenTrial

CONSTRAINTS_ATTR = "servetune_constraints"
# Study attribute: trial numbers whose process died mid-trial. They are FAIL, and do not spend the budget.
ABANDONED_ATTR = "servetune_abandoned"


def hard_slo_constraints(trial: FrozenTrial) -> Sequence[float]:
    """Optuna's constraint values for a trial: <= 0 where every hard SLO held."""
    return trial.user_attrs.get(CONSTRAINTS_ATTR, [])
