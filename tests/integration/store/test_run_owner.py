"""A run belongs to the process running it: a second process is refused it, and a run whose process is gone reads
as abandoned until its name runs again, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.support.factories import make_spec
from tests.support.owning_process import run_owned_elsewhere
from tuning.errors import ExitCode
from tuning.evaluation.outcome import RunState, TrialState
from tuning.runtime import process_group
from tuning.spec import TuningSpec
from tuning.store import RunKind, RunOwned, Store, TuningRun


def _spec(name: str) -> TuningSpec:
    return make_spec(name, model={"path": "org/model"}, search_space={"max-num-seqs": [2, 4]})


def test_a_run_a_live_process_owns_is_refused_to_a_second_one_naming_its_owner(database_url: str) -> None:
    store = Store(database_url)
    with run_owned_elsewhere(database_url, "owned") as other:
        earlier = store.resumable_run("owned")
        assert earlier is not None and earlier.id == other.run_id
        with pytest.raises(RunOwned, match=f"is being run by process {other.process.pid} on this host") as refused:
            store.reopen_run(other.run_id, None)
        assert refused.value.exit_code is ExitCode.bad_input and other.owner in str(refused.value)
        with pytest.raises(RunOwned, match=other.owner):  # a new run of the name (`--fresh`) is refused too
            store.start_run(_spec("owned"))
        store.start_run(_spec("owned"), kind=RunKind.recheck)  # a recheck of the name measures on its own

        run = store.find_run(other.run_id)
        assert (run.state, run.owner) == (RunState.running, other.owner)
        assert [(t.state, t.owner) for t in store.trials(run.id)] == [(TrialState.running, other.owner)]


def test_a_killed_process_leaves_its_run_and_trial_abandoned_until_the_name_is_resumed(database_url: str) -> None:
    store = Store(database_url)
    with run_owned_elsewhere(database_url, "killed") as other:
        other.kill()
        assert store.find_run(other.run_id).state == RunState.abandoned
        assert [r.state for r in store.runs() if r.id == other.run_id] == [RunState.abandoned]
        assert [t.state for t in store.trials(other.run_id)] == [TrialState.abandoned]

        resumed = store.reopen_run(other.run_id, None)
        assert (resumed.state, resumed.owner) == (RunState.running, process_group.owner_id())
        assert store.abandon_dead_trials(other.run_id) == [0]
        [trial] = store.trials(other.run_id)
        assert trial.state == TrialState.failed
        assert trial.error == (f"abandoned: the process running it ({other.owner}) ended without recording an outcome")
        store.finish_run(other.run_id, RunState.completed, "done", None)
        finished = store.find_run(other.run_id)
        assert (finished.state, finished.owner) == (RunState.completed, None)


def test_an_owner_on_another_host_cannot_be_judged_and_the_refusal_says_to_use_another_name(
    database_url: str,
) -> None:
    store = Store(database_url)
    run = store.start_run(_spec("elsewhere"))
    with Session(store.engine) as session:
        row = session.get(TuningRun, run.id)
        assert row is not None
        row.owner = "gpu-box-7/4242"
        session.add(row)
        session.commit()
    assert store.find_run(run.id).state == RunState.running  # not judged abandoned: its PID is not ours to check
    with pytest.raises(RunOwned) as refused:
        store.reopen_run(run.id, None)
    assert str(refused.value) == (
        f"run 'elsewhere' ({run.id}) is owned by gpu-box-7/4242, a process on host 'gpu-box-7' that servetune "
        "cannot check from this one: if it still runs, wait for it to end; if it is gone, start a run under another "
        "name (`servetune tune SPEC --name NEW`)"
    )
    with pytest.raises(RunOwned, match="gpu-box-7/4242"):
        store.start_run(_spec("elsewhere"))
    store.start_run(_spec("elsewhere-2"))  # the way on that the message gives
