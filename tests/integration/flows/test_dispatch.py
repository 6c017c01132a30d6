"""Before and around a trial: configurations rejected before any engine starts, a second process refused a run
another one owns, trials whose flow run ended elsewhere, and a pool whose `trial` deployment is missing or that
no worker serves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from deployers.validity import gpus_available, rejection
from flows.dispatch import PoolNotReady, TrialRuns
from tests.support.factories import make_spec
from tuning.errors import ExitCode
from tuning.evaluation.outcome import TrialState
from tuning.search.study import FAILED_ATTR, Search
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
    search.tell_infeasible(number)
    told = search.study.trials[number]
    assert told.state.name == "COMPLETE" and told.user_attrs["servetune_constraints"] == [1.0]
    assert told.user_attrs[FAILED_ATTR] is True and search.measured(search.space.configuration(told.params)) is None


# What `tune` does to open its run, in a process of its own: resume the name's unfinished run, or start one.
_OPEN_RUN = textwrap.dedent(
    """
    import sys
    from tuning.runtime.process_group import owner_id
    from tuning.spec import TuningSpec
    from tuning.store import RunOwned, Store

    spec = TuningSpec.model_validate({"name": "two-processes", "model": {"path": "/models/m"}})
    store = Store(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # both processes go at once
    try:
        earlier = store.resumable_run(spec.name)
        run = store.reopen_run(earlier.id, None) if earlier else store.start_run(spec)
        print("owner", run.id, owner_id(), flush=True)
    except RunOwned as refused:
        print("refused", refused.exit_code, refused, flush=True)
    sys.stdin.readline()  # the run stays this process's until the test has read both answers
    """
)


@pytest.mark.parametrize("earlier", ["none", "failed"])
def test_two_processes_on_one_run_name_one_runs_it_and_the_other_refuses_naming_the_owner(
    database_url: str, earlier: str
) -> None:
    """Two real processes open one run name at the same moment: a new name, or a run an ended process left failed."""
    store = Store(database_url)
    if earlier == "failed":
        left = store.start_run(make_spec("two-processes"))
        store.finish_run(left.id, "failed", "every trial failed", None)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_RUN, database_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        assert [p.stdout.readline() for p in processes] == ["ready\n"] * 2  # type: ignore[union-attr]
        for p in processes:
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        answers = [p.stdout.readline().split(" ", 2) for p in processes]  # type: ignore[union-attr]
    finally:
        for p in processes:
            p.communicate("done\n", timeout=60)
    [(_, run_id, owner)] = [a for a in answers if a[0] == "owner"]
    [(_, code, why)] = [a for a in answers if a[0] == "refused"]
    winner = processes[[a[0] for a in answers].index("owner")]
    assert owner.strip().endswith(f"/{winner.pid}")
    assert int(code) == ExitCode.bad_input
    assert f"run 'two-processes' ({run_id}) is being run by process {winner.pid} on this host ({owner.strip()})" in why
    assert [r.id for r in store.runs() if r.name == "two-processes"] == (
        [run_id] if earlier == "none" else [left.id]  # the refused process started nothing, and one run holds both
    )


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


def _deploy_trial_without_worker(pool: str) -> None:
    """A process pool with its `trial` deployment, as `prefect deploy --all` makes it, and no worker started."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = client.create_flow_from_name("trial")
        client.create_deployment(flow_id, pool, work_pool_name=pool, entrypoint="flows/trial.py:trial")


def test_a_trial_no_worker_of_its_pool_picks_up_fails_naming_the_pool_and_its_flow_run_is_cancelled(
    prefect_server: None,
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    _deploy_trial_without_worker("gpu-unstaffed")
    spec = _spec(hardware={"pool": "gpu-unstaffed"}, timeouts={"pool_pickup": 3})
    store = Store()
    run = store.start_run(spec)

    @flow
    def dispatch_one() -> list[int]:
        runs = TrialRuns(spec, run.id, store)
        runs.check()
        runs.start(3, {"max-num-seqs": 2})
        return runs.wait_finished()

    began = time.monotonic()
    assert dispatch_one() == [3]
    assert time.monotonic() - began < 60, "the trial was given up soon after timeouts.pool_pickup"
    [trial] = store.trials(run.id)
    assert (trial.number, trial.state) == (3, TrialState.failed)
    assert trial.error == (
        "no worker of pool 'gpu-unstaffed' picked trial 3 up within 3 s; "
        "start one with `prefect worker start --pool gpu-unstaffed`"
    )
    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["gpu-unstaffed"]))
        )
    assert flow_run.state is not None and flow_run.state.is_cancelled()
