"""A fair test for each value of a categorical flag before a model may write it off.

The GP's kernel sees a categorical flag (a KV-cache dtype, an attention backend) as same-or-different. When every
configuration measured with one value also had other flags that broke it (an fp8 KV cache tried only at tensor
parallel 1, where the TTFT SLO breaks, and at 8, where the engine refuses the split), the model cannot tell the
value's effect from theirs, blames the value, and the search never tries it again. On the suite's long-context
surface (benchmarks/surfaces/suite) that is how gp lost to random search: the best configurations all use fp8.

So a value gets one fair test: the best feasible configuration measured so far, with only that flag changed. Once
some configuration with the value was measured beside a feasible one that differs in that flag alone, the model has
the comparison it needs and decides as usual. A flag with k values costs at most k - 1 such trials per search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial

from tuning.search.samplers.constraints import is_feasible_measurement


def _differs_only_in(a: Mapping[str, Any], b: Mapping[str, Any], name: str, names: Sequence[str]) -> bool:
    return a[name] != b[name] and all(a[n] == b[n] for n in names if n != name)


def categorical_probe(
    trials: Sequence[FrozenTrial],
    search_space: Mapping[str, BaseDistribution],
    untried: Sequence[Mapping[str, Any]],
    maximize: bool,
) -> dict[str, Any] | None:
    """The next fair test, untried, of a categorical value that has had none; None when every value has had one
    (or nothing feasible is measured yet, or the test's configuration was already tried)."""
    names = list(search_space)
    measured = [t for t in trials if t.values is not None and all(n in t.params for n in names)]
    feasible = [t for t in measured if is_feasible_measurement(t)]
    if not feasible:
        return None
    best = (max if maximize else min)(feasible, key=lambda t: t.values[0])
    open_points = {tuple(point[n] for n in names) for point in untried}
    for name, distribution in search_space.items():
        if not isinstance(distribution, CategoricalDistribution):
            continue
        for choice in distribution.choices:
            tested = any(f.params[name] == choice for f in feasible) or any(
                t.params[name] == choice and _differs_only_in(t.params, f.params, name, names)
                for t in measured
                for f in feasible
            )
            if tested:
                continue
            candidate = {n: (choice if n == name else best.params[n]) for n in names}
            if tuple(candidate[n] for n in names) in open_points:
                return candidate
    return None
