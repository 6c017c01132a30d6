"""`servetune tune` on a run name another live process is tuning: refused with exit code 2, naming the owner,
before the run, its trials or any engine is touched."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from tests.support.owning_process import run_owned_elsewhere
from tuning.cli import main
from tuning.evaluation.outcome import RunState, TrialState
from tuning.store import Store


@pytest.mark.parametrize("fresh", [False, True])
def test_tune_on_a_run_a_live_process_owns_exits_2_naming_the_owner_and_leaves_the_run_alone(
    prefect_server: None,
    database_url: str,
    fresh: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # cmd_tune's SIGTERM handler, not for pytest
    spec_file = tmp_path / "spec.yaml"
    # Another search space than the owner's: the live owner is what the user must hear about, not the change.
    spec = {"name": "busy-run", "model": {"path": "org/model"}, "search_space": {"max-num-seqs": [8, 16]}}
    spec_file.write_text(yaml.safe_dump(spec))
    store = Store(database_url)
    with run_owned_elsewhere(database_url, "busy-run") as other:
        assert main(["tune", str(spec_file), *(["--fresh"] if fresh else [])]) == 2
        refusal = capsys.readouterr().err
        assert f"run 'busy-run' ({other.run_id}) is being run by process {other.process.pid} on this host" in refusal
        assert other.owner in refusal and "--name NEW" in refusal and "Traceback" not in refusal

        assert [r.id for r in store.runs() if r.name == "busy-run"] == [other.run_id]
        run = store.find_run(other.run_id)
        assert (run.state, run.owner, run.prefect_flow_run_id) == (RunState.running, other.owner, None)
        assert [(t.number, t.state) for t in store.trials(run.id)] == [(0, TrialState.running)]


def test_the_tune_flow_itself_refuses_a_run_a_live_process_owns_as_a_deployment_run_would(
    prefect_server: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import tune
    from tuning.spec import TuningSpec
    from tuning.store import RunOwned

    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    spec = TuningSpec.model_validate({"name": "busy-flow", "model": {"path": "org/model"}})
    with run_owned_elsewhere(database_url, "busy-flow") as other:
        with pytest.raises(RunOwned, match=f"is being run by process {other.process.pid} on this host"):
            tune(spec)
        run = Store(database_url).find_run("busy-flow")
        assert (run.id, run.state, run.owner) == (other.run_id, RunState.running, other.owner)
