"""What servetune keeps on a study besides values: hard-SLO constraints, failed and abandoned trials.

Optuna 5 samplers read a trial's constraints from the trial itself (``Trial.set_constraint``), so no sampler is
given a ``constraints_func``; servetune also keeps the measured ones as a user attribute to reuse for a repeated
configuration and to show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaTrialState

CONSTRAINTS_ATTR = "servetune_constraints"
# Study attribute: trial numbers whose process died mid-trial. They are FAIL, and do not spend the budget.
ABANDONED_ATTR = "servetune_abandoned"
# Trial attribute of a configuration that cannot run (its engine failed to start or never served, or it was rejected
# before any engine started): told to the sampler as a COMPLETE trial breaking every constraint, so it learns where
# configurations fail.
FAILED_ATTR = "servetune_failed"
# The constraint a configuration that cannot run is told, per hard SLO: more broken than any measured SLO can be told.
FAILURE_CONSTRAINT = 1.0


def told_constraint(excess: float) -> float:
    """What the sampler is told for a hard SLO's signed relative excess (<= 0 met): its tanh, same sign, below 1.

    The GP's constraint model is a regression on these numbers. Measured as they are, one configuration far past an
    SLO (a TTFT of 100 s against 20 s is an excess of 4) outweighs the rest once standardised, and every
    configuration sharing one of its flag values looks infeasible: on the suite's long-context surface the GP then
    wrote off an fp8 KV cache after a single tp-1 trial. Bounded, the sign still says feasible or not, an excess near
    the limit keeps its size, and a failure (``FAILURE_CONSTRAINT``) stays the most broken. On the suite this raised
    gp's share of searches within 15% of the grid from 83% to 90% at 5% noise (docs/search-efficiency.md).
    """
    return math.tanh(excess)


def hard_slo_constraints(trial: FrozenTrial) -> Sequence[float]:
    """The measured constraint values of a trial: <= 0 where every hard SLO held."""
    return trial.user_attrs.get(CONSTRAINTS_ATTR, [])


def is_feasible_measurement(trial: FrozenTrial) -> bool:
    """A COMPLETE trial that ran and met every hard SLO (a failed or rejected configuration is COMPLETE too)."""
    return (
        trial.state is OptunaTrialState.COMPLETE
        and not trial.user_attrs.get(FAILED_ATTR)
        and all(c <= 0 for c in hard_slo_constraints(trial))
    )
