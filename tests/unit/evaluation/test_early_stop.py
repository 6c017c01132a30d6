"""The one early-stop rule the trial flow and the replay follow: a broken hard SLO stops, else the pruner may."""

from __future__ import annotations

from tests.support.factories import make_spec, round_metrics
from tuning.evaluation.early_stop import EarlyStop, early_stop


class FakeReporter:
    """A pruner's side of the study: remembers what it was told, prunes when told to."""

    def __init__(self, prune: bool) -> None:
        self.prune = prune
        self.reported: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reported.append((value, step))

    def should_prune(self) -> bool:
        return self.prune


LEVELS = {"concurrency": [1, 4, 16]}
TTFT_LIMIT = [{"metric": "ttft", "statistic": "p90", "max": 0.5}]


def test_a_broken_hard_slo_stops_before_the_last_level_and_says_which() -> None:
    spec = make_spec(benchmark=LEVELS, slos=TTFT_LIMIT)
    rounds = [round_metrics(concurrency=1), round_metrics(concurrency=4, latency=0.9)]
    reporter = FakeReporter(prune=False)
    stop = early_stop(spec, rounds, 1, reporter, gpus=1)
    assert stop == EarlyStop(
        "stopped at concurrency 4: hard SLO broken (ttft p90 <= 0.5s), so higher levels were not run", pruned=False
    )
    assert reporter.reported == []  # an infeasible score is not the pruner's to judge


def test_the_pruner_hears_the_score_so_far_and_may_prune() -> None:
    spec = make_spec(benchmark=LEVELS)
    rounds = [round_metrics(concurrency=1, throughput=10.0)]
    reporter = FakeReporter(prune=True)
    stop = early_stop(spec, rounds, 0, reporter, gpus=1)
    assert stop is not None and stop.pruned
    assert stop.reason == "pruned at concurrency 1: score so far 10 is below earlier trials'"
    assert reporter.reported == [(10.0, 0)]


def test_a_feasible_level_goes_on_without_a_pruner_or_when_it_does_not_prune() -> None:
    spec = make_spec(benchmark=LEVELS, slos=TTFT_LIMIT)
    rounds = [round_metrics(concurrency=1)]
    assert early_stop(spec, rounds, 0, None, gpus=1) is None
    assert early_stop(spec, rounds, 0, FakeReporter(prune=False), gpus=1) is None


def test_the_last_level_never_stops_but_still_reports() -> None:
    spec = make_spec(benchmark=LEVELS, slos=TTFT_LIMIT)
    broken = [round_metrics(concurrency=c, latency=0.9) for c in (1, 4, 16)]
    assert early_stop(spec, broken, 2, None, gpus=1) is None
    reporter = FakeReporter(prune=True)
    assert early_stop(spec, [round_metrics(concurrency=c) for c in (1, 4, 16)], 2, reporter, gpus=1) is None
    assert reporter.reported == [(100.0, 2)]


def test_the_score_so_far_divides_a_per_gpu_objective_by_the_gpus() -> None:
    spec = make_spec(benchmark=LEVELS, objective={"metric": "output_throughput_per_gpu"})
    reporter = FakeReporter(prune=False)
    early_stop(spec, [round_metrics(concurrency=1, throughput=100.0)], 0, reporter, gpus=4)
    assert reporter.reported == [(25.0, 0)]
