"""Before and around a trial: configurations rejected before any engine starts, several processes sharing one
run's study, trials whose flow run ended elsewhere, and a pool whose `trial` deployment is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from deployers.validity import gpus_available, rejection
from flows.dispatch import PoolNotReady, TrialRuns
from tests.support.factories import make_spec
from tuning.evaluation.outcome import TrialState
from tuning.search.study import Search
from tuning.spec import TuningSpec
from tuning.store import Store


def _spec(**sections: object) -> TuningSpec:
    return make_spec("dispatch-test", **({"search_space": {}} | sections))


def test_a_configuration_needing_more_gpus_than_a_machine_has_is_rejected_with_the_count() -> None:
    spec = _spec(hardware={"gpus_per_node": 4})
    assert rejection(spec, {"tensor-parallel-size": 2, "data-parallel-size": 2}, gpus_available(spec)) is None
    why = rejection(spec, {"tensor-parallel-size": 4, "data-parallel-size": 2}, gpus_available(spec))
    assert why is not None and "needs 8 GPUs" in why and "offers 4" in why and "hardware.gpus_per_node" in why


def test_without_gpus_this_machine_offers_one_slot_and_a_pool_is_not_judged_here() -> None:
    assert gpus_available(_spec()) == 1  # no NVML on this machine: one engine per CPU slot
    assert gpus_available(_spec(hardware={"pool": "gpu-h100"})) is None
    assert rejection(_spec(hardware={"pool": "gpu-h100"}), {"tensor-parallel-size": 8}, None) is None


@pytest.mark.parametrize(
    ("args", "params", "expected"),
    [
        ({}, {"max-num-seqs": 64, "max-num-batched-tokens": 32}, "max-num-batched-tokens (32) below max-num-seqs (64)"),
        ({"max-num-seqs": 16}, {"max-num-batched-tokens": 8}, "max-num-batched-tokens (8) below max-num-seqs (16)"),
        (
            {"max-model-len": 4096, "no-enable-chunked-prefill": True},
            {"max-num-batched-tokens": 2048},
            "max-num-batched-tokens (2048) below max-model-len (4096) when chunked prefill is off",
        ),
        ({}, {"max-num-seqs": 8, "max-num-active-seqs": 9}, "max-num-active-seqs (9) above max-num-seqs (8)"),
        ({"max-model-len": 4096}, {"max-num-seqs": 8, "max-num-batched-tokens": 2048}, None),
        ({}, {"max-num-batched-tokens": 8}, None),  # max-num-seqs left to vLLM's platform default: not judged
    ],
)
def test_flag_combinations_vllm_refuses_at_start_up_are_rejected_before_deployment(
    args: dict, params: dict, expected: str | None
) -> None:
    why = rejection(_spec(engine={"args": args}), params, 1)
    assert why == (f"vLLM refuses {expected}" if expected else None)


def test_a_rejected_configuration_is_learnt_as_infeasible_by_a_constrained_sampler(database_url: str) -> None:
    spec = _spec(
        search_space={"max-num-seqs": [1, 2]},
        strategy={"name": "tpe"},
        slos=[{"metric": "ttft", "max": 1.0}],
    )
    search = Search(spec, "rejected-told", database_url)
    number, _ = search.ask()  # type: ignore[misc]
    search.tell_rejected(number, hard_slos=1)
    told = search.study.trials[number]
    assert told.state.name == "PRUNED" and told.user_attrs["servetune_constraints"] == [1.0]


_ASK_ALL = textwrap.dedent(
    """
    import sys
    from tuning.search.study import Search
    from tuning.spec import TuningSpec

    spec = TuningSpec.model_validate({
        "name": "two-processes", "model": {"path": "/models/m"},
        "search_space": {"max-num-seqs": [1, 2, 4, 8, 16, 32], "max-num-batched-tokens": [256, 512, 1024]},
    })
    search = Search(spec, "servetune-two-processes", sys.argv[1])
    while (asked := search.ask()) is not None:
        number, params = asked
        print(number, params["max-num-seqs"], params["max-num-batched-tokens"], flush=True)
        search.tell_value(number, float(number), [])
    """
)


def test_two_processes_on_one_run_never_run_the_same_trial_or_configuration(postgres_url: str) -> None:
    """Two real processes share one grid study on PostgreSQL, asking as fast as they can."""
    Search(_spec(), "servetune-warm-up", postgres_url)  # tables exist before the race starts
    workers = [
        subprocess.Popen([sys.executable, "-c", _ASK_ALL, postgres_url], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=300)[0].split("\n") for w in workers]
    assert all(w.returncode == 0 for w in workers)
    asked = [line.split() for out in outputs for line in out if line]
    numbers = [int(n) for n, *_ in asked]
    configurations = [(seqs, tokens) for _, seqs, tokens in asked]
    assert len(numbers) == len(set(numbers))
    assert sorted(set(configurations)) == sorted(configurations) and len(configurations) == 18
    assert all(outputs), "both processes took part"


def test_a_trial_whose_flow_run_ended_without_an_outcome_is_recorded_failed_with_the_reason(database_url: str) -> None:
    store = Store(database_url)
    run = store.start_run(_spec())
    store.start_trial(run.id, 0, {"max-num-seqs": 2})
    assert store.record_lost(run.id, 0, {"max-num-seqs": 2}, "flow run ended Crashed")
    assert store.record_lost(run.id, 1, {"max-num-seqs": 4}, "flow run ended Failed")  # never even started
    store.record_not_run(run.id, 2, {"max-num-seqs": 8}, TrialState.rejected, "rejected: no")
    assert not store.record_lost(run.id, 2, {"max-num-seqs": 8}, "late")  # an outcome stands
    trials = {t.number: t for t in store.trials(run.id)}
    assert (trials[0].state, trials[0].error) == ("failed", "flow run ended Crashed")
    assert (trials[1].state, trials[1].params) == ("failed", {"max-num-seqs": 4})


def test_trials_running_when_the_run_is_interrupted_stay_interrupted_whatever_they_record_later(
    database_url: str,
) -> None:
    from tuning.evaluation.outcome import TrialOutcome

    store = Store(database_url)
    run = store.start_run(_spec())
    store.start_trial(run.id, 0, {"max-num-seqs": 2})
    assert store.interrupt_trials(run.id) == [0]
    # The trial's thread sees its engine vanish, fails, and records that: the interruption is the truth.
    store.finish_trial(run.id, TrialOutcome(number=0, params={}, state=TrialState.failed, error="gone"), [])
    [trial] = store.trials(run.id)
    assert (trial.state, trial.error) == ("interrupted", "gone")


def test_a_pool_without_its_trial_deployment_fails_before_any_trial_naming_the_fix(prefect_server: None) -> None:
    spec = _spec(hardware={"pool": "gpu-nowhere"})
    with pytest.raises(PoolNotReady, match=r"no deployment 'trial/gpu-nowhere'.*prefect deploy --all"):
        TrialRuns(spec, "run", Store()).check()


def test_a_missing_local_model_folder_is_named_before_any_engine_starts(tmp_path) -> None:
    from deployers import deployer_for

    spec = _spec(model={"path": str(tmp_path / "no-such-model"), "tokenizer": "org/tokenizer"})
    [missing] = deployer_for(spec).missing_files()
    assert missing.startswith(f"model.path: {tmp_path / 'no-such-model'} does not exist on this machine")
    assert deployer_for(_spec(model={"path": "org/model"})).missing_files() == []  # a hub id is not a path
