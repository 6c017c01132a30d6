"""A run warm-started from an earlier one, through the real tune flow: it says which run it learnt from.

Real Prefect, the store, the local deployer and genai-bench, against the stand-in engine of
``tests/support/openai_engine.py``.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from flows import tune
from tests.support.standin_runs import standin_spec
from tuning.search.study import KNOWN_ATTR, study_name, study_storage
from tuning.store import Store


def test_a_run_learns_from_an_earlier_matching_run_and_says_so(
    prefect_server: None, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVETUNE_HOME", str(tmp_path / "home"))
    search = {"name": "random", "seed": 5, "max_trials": 2}
    earlier = tune(standin_spec("warm-earlier", tiny_model, tmp_path, seqs=[1, 2, 4, 8], strategy=search))

    later_spec = standin_spec(
        "warm-later", tiny_model, tmp_path, seqs=[1, 2, 4, 8], strategy=search, warm_start={"mode": "known"}
    )
    later = tune(later_spec)

    store = Store()
    learnt = f"known: 2 configuration(s) measured by 1 earlier run(s): warm-earlier ({earlier.run_id})"
    assert f"warm start ({learnt})" in later.message
    assert (store.find_run(later.run_id).environment or {})["warm start"] == learnt
    # The earlier results sit in the study as known trials, not in this run's trials, and cost none of its budget.
    study = optuna.load_study(study_name=study_name(later.run_id), storage=study_storage(store.url))
    known = [t for t in study.trials if KNOWN_ATTR in t.user_attrs]
    assert [t.user_attrs[KNOWN_ATTR].split(" trial ")[0] for t in known] == [f"run warm-earlier ({earlier.run_id})"] * 2
    measured = store.trials(later.run_id)
    assert [t.number for t in measured] == [2, 3]  # numbered after the two known results in the study
    assert all(t.state == "succeeded" for t in measured)
