"""An SLO checked on one round: its observed value, and whether a hard one is broken."""

from __future__ import annotations

from collections.abc import Sequence

from tuning.evaluation.metrics import RoundMetrics
from tuning.spec import SLOMetric, SLOSpec


def slo_value(round_: RoundMetrics, slo: SLOSpec) -> float:
    if slo.metric is SLOMetric.error_rate:
        return round_.error_rate
    return round_.metric(slo.metric.value, slo.statistic.value)


def breaks_hard_slo(round_: RoundMetrics, slos: Sequence[SLOSpec]) -> bool:
    return any(slo.hard and slo_value(round_, slo) > slo.max for slo in slos)
