"""The tuning run: try each configuration as a trial subflow, then report the best."""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from functools import partial
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from pydantic import BaseModel, ValidationError

from deployers import deployer_for
from deployers.engines import check_engine_flags
from deployers.validity import gpus_available, rejection
from flows._plots import PlotArtifacts
from flows._run_lifecycle import RunLifecycle
from tuning.errors import ServetuneError, UserInputError
from tuning.evaluation.defaults import defaults_trial, measures_defaults
from tuning.evaluation.outcome import Phase, RunState, TrialState
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import conclude, leaders
from tuning.report.figure import Figure
from tuning.report.leaderboard import best_card, leaderboard_rows, pareto_rows
from tuning.report.study_notes import trial_note
from tuning.search.study import Search, TrialNote, study_name
from tuning.spec import Configuration, TuningSpec, WarmStartMode
from tuning.store import Store, Trial
from tuning.store.warm_start import WARM_START_KEY, earlier_measurements

# Phases where a failure is the configuration's: its engine did not start, or never served.
CONFIGURATION_PHASES = (Phase.deploy.value, Phase.ready.value)


class NoTrialSucceeded(ServetuneError, RuntimeError):
    """Every trial failed; the message lists why each one did."""


class TuneSummary(BaseModel):
    run_id: str
    trials: int
    succeeded: int
    best_trial: int | None
    best_score: float | None
    message: str


def _summarise_failures(store: Store, run_id: str) -> str:
    lines = [
        f"trial {t.number} {t.state} in {t.phase}: {(t.error or '?').splitlines()[0]}" for t in store.trials(run_id)
    ]
    return "no trial succeeded:\n" + "\n".join(lines)


def _tell(search: Search, recorded: Trial | None, number: int, searched: bool = False) -> None:
    """Tell the study how a trial ended, as the store recorded it (and, for optuna-dashboard, in servetune's words).

    A configuration whose engine failed to start or never served is taught to the sampler as infeasible
    (``Search.tell_infeasible``; a ``searched`` trial only, not a confirmation run). A failure later on (the
    benchmark, the scoring) may be the machine's rather than the configuration's, and stays FAIL."""
    note = trial_note(recorded)
    if recorded is not None and recorded.state == TrialState.succeeded and recorded.score is not None:
        # One value per objective when there are several (``objective_scores``), else the score.
        search.tell_value(number, recorded.objective_scores or recorded.score, recorded.constraints, note)
        return
    if recorded is not None and recorded.state == TrialState.pruned:
        search.tell_pruned(number, note)
        return
    if (
        searched
        and recorded is not None
        and recorded.state == TrialState.failed
        and recorded.phase in CONFIGURATION_PHASES
    ):
        search.tell_infeasible(number, note)
        return
    search.tell_failed(number, note)
    # Prefect hands a subflow's Ctrl-C back as a Crashed state; the store says what really happened.
    if recorded is None or recorded.state == TrialState.interrupted:
        raise KeyboardInterrupt(f"trial {number} was interrupted")


def _search(spec: TuningSpec, run: RunLifecycle, search: Search, plots: PlotArtifacts) -> None:
    """Keep ``parallelism`` trials in flight until the budget is spent; tell the study each result as it ends.

    A configuration already measured reuses that result; one that cannot run is rejected without an engine; one
    the study asks again while its twin is still running waits for the twin's result.
    """
    logger = get_run_logger()
    run_id, store, runs = run.id, run.store, run.trials
    # Called from a flow (sync), Prefect's dispatcher returns the id, not a coroutine.
    progress = cast(
        UUID, create_progress_artifact(0.0, key=f"{spec.name}-progress", description=f"Trials done in run {run_id}")
    )
    available = gpus_available(spec)
    in_flight: dict[int, Configuration] = {}
    twins: list[tuple[int, Configuration]] = []

    def place(number: int, params: Configuration) -> None:
        if (earlier := search.measured(params)) is not None:
            logger.info("trial %d repeats trial %d's configuration; reusing its result", number, earlier.number)
            reused = f"same configuration as trial {earlier.number}; its result was reused"
            store.record_not_run(run_id, number, params, TrialState.repeated, reused)
            search.tell_repeat(number, earlier, TrialNote(TrialState.repeated, reused))
        elif params in in_flight.values():
            twins.append((number, params))
        elif (why := rejection(spec, params, available)) is not None:
            logger.warning("trial %d rejected before deployment: %s", number, why)
            store.record_not_run(run_id, number, params, TrialState.rejected, f"rejected: {why}")
            search.tell_infeasible(number, TrialNote(TrialState.rejected, f"rejected: {why}"))
        else:
            in_flight[number] = params
            runs.start(number, params)

    if (number := search.defaults) is not None:
        logger.info("trial %d measures the engine's defaults (engine.args only), the baseline of this run", number)
        in_flight[number] = {}
        runs.start(number, {})
    exhausted = False
    while True:
        while runs.has_room and not exhausted:
            if (asked := search.ask()) is None:
                exhausted = True
            else:
                place(*asked)
        if not runs.busy:
            break
        for number in runs.wait_finished():
            in_flight.pop(number)
            _tell(search, store.trial(run_id, number), number, searched=True)
            waiting, twins[:] = list(twins), []
            for twin in waiting:  # a result is known now, or the twin failed and the configuration runs itself
                place(*twin)
        update_progress_artifact(progress, 100.0 * search.spent / search.budget)
        plots.publish(run)
    if search.exhausted:
        logger.info(
            "search ended after %d of up to %d trials: the sampler proposed only configurations already measured, "
            "and no configuration left to measure was found",
            search.spent,
            search.budget,
        )


def _defaults_to_measure(spec: TuningSpec, run: RunLifecycle) -> bool:
    """Whether the spec asks for the engine's defaults and no earlier process of this run measured them (a
    measurement abandoned by a process that died does not count)."""
    if not spec.measure_defaults:
        return False
    recorded = [t for t in run.store.trials(run.id) if measures_defaults(t) and t.confirms is None]
    return not any(t.number not in run.abandoned for t in recorded)


def _confirm_leaders(spec: TuningSpec, run: RunLifecycle, search: Search, plots: PlotArtifacts) -> None:
    """Benchmark the best configurations again, so the winner is chosen on more than one measurement."""
    run_id, store, runs = run.id, run.store, run.trials
    trials = store.trials(run_id)
    done = Counter(t.confirms for t in trials if t.confirms is not None)

    def tell_finished() -> None:
        for finished in runs.wait_finished():
            _tell(search, store.trial(run_id, finished), finished)
        plots.publish(run)

    # The defaults take no leader's place, and are measured as many times as the leaders, so the improvement
    # over them compares like with like.
    searched = [t for t in leaders(trials, Goal.of_spec(spec)) if not measures_defaults(t)]
    again = searched[: spec.confirmation.top]
    defaults = defaults_trial(trials)
    if again and defaults is not None and defaults.state == TrialState.succeeded:
        again.append(defaults)
    for original in again:
        for _ in range(spec.confirmation.repeats - done[original.number]):
            number = search.ask_confirmation(original.params, original.number)
            runs.start(number, original.params, confirms=original.number)
            while not runs.has_room:
                tell_finished()
    while runs.busy:
        tell_finished()


# Sections that must not change when a run is resumed: they decide what its trials measured.
_RESUME_FIXED = ("model", "engine", "deployer", "search_space", "benchmark", "objective", "objectives", "slos")


class SpecChanged(UserInputError):
    """The spec no longer matches the run it would resume."""


def _check_resumable(stored: dict, spec: TuningSpec) -> None:
    current = spec.model_dump(mode="json")
    with suppress(ValidationError):  # a spec stored by an earlier release, compared in today's spelling
        stored = TuningSpec.model_validate(stored).model_dump(mode="json")
    changed = [k for k in _RESUME_FIXED if stored.get(k) != current.get(k)]
    if stored.get("strategy", {}).get("name") != current["strategy"]["name"]:
        changed.append("strategy.name")
    if changed:
        raise SpecChanged(
            f"run {spec.name!r} exists and is not completed, but its spec differs in {', '.join(changed)}; "
            "resume it with the same spec, or start a new run (another name, or --fresh)"
        )


def _open_search(spec: TuningSpec, run: RunLifecycle) -> Search:
    """The run's study; a resumed run's trials abandoned by a process that died are told to it as failed."""
    logger = get_run_logger()
    defaults = _defaults_to_measure(spec, run)
    search = Search(spec, study_name(run.id), run.store.url, run_id=run.id, measure_defaults=defaults)
    if run.resumed is not None:
        search.abandon(run.abandoned)
        logger.warning(
            "resuming run %s: %d trial(s) already done, %d abandoned by a process that died: %s",
            run.id,
            search.spent,
            len(run.abandoned),
            run.abandoned,
        )
    _warm_start(spec, run, search)
    logger.info(
        "run %s: %s search, up to %d trials, results in %s",
        run.id,
        spec.strategy.name,
        search.budget,
        run.store.safe_url,
    )
    return search


def _warm_start(spec: TuningSpec, run: RunLifecycle, search: Search) -> None:
    """Give a new run's study what matching earlier runs measured (``warm_start``), and record which runs those
    were with the run's environment, where the report and the run's message show them."""
    mode = spec.warm_start.mode
    if mode is WarmStartMode.off or run.resumed is not None:  # a resumed run's study has them already
        return
    logger = get_run_logger()
    warm = earlier_measurements(run.store, spec, run.environment, exclude=run.id)
    for reason in warm.left_out:
        logger.info("warm start: not learning from run %s", reason)
    if mode is WarmStartMode.known:
        used = search.learn(warm.known)
    else:
        ranking = spec.objectives[Goal.of_spec(spec).best_index]
        used = search.first_candidates(warm.known, spec.warm_start.top, ranking.maximize)
    text = f"{mode.value}: {warm.describe(len(used))}"
    logger.info("warm start (%s)", text)
    run.record_environment(run.environment | {WARM_START_KEY: text})


def _conclude(spec: TuningSpec, run: RunLifecycle) -> TuneSummary:
    """The run's result: its best trial (or the point the pick rule chose); NoTrialSucceeded if every one failed."""
    trials = run.store.trials(run.id)
    conclusion = conclude(trials, Goal.of_spec(spec))
    best = conclusion.best
    best_number = best.number if best else None
    succeeded = sum(t.state == TrialState.succeeded for t in trials)
    if not succeeded:
        message = _summarise_failures(run.store, run.id)
        run.conclude(RunState.failed, message, best_number)
        raise NoTrialSucceeded(message)
    if conclusion.front is not None:
        run.store.mark_front(run.id, conclusion.front.numbers)
    # Names the best (or picked, and the rule), else the nearest miss; with the confirmation's spread.
    message = conclusion.message
    if saved := sum(t.saved_seconds or 0.0 for t in trials):
        message += f"; early stops saved about {saved:.0f}s of benchmarking"
    if warm := run.environment.get(WARM_START_KEY):
        message += f"; warm start ({warm})"
    run.conclude(RunState.completed, message, best_number)
    return TuneSummary(
        run_id=run.id,
        trials=len(trials),
        succeeded=succeeded,
        best_trial=best_number,
        best_score=best.score if best else None,
        message=message,
    )


def _publish(plots: PlotArtifacts, run: RunLifecycle) -> None:
    """The run's artifacts: its leaderboard, its Pareto front (with several objectives), its best configuration
    and its plots."""
    store, key = run.store, run.spec.name
    finished = store.find_run(run.id)
    create_table_artifact(
        leaderboard_rows(store, finished), key=f"{key}-leaderboard", description=f"Trials of run {run.id}"
    )
    if front := pareto_rows(store, finished):
        create_table_artifact(front, key=f"{key}-pareto-front", description=f"Pareto front of run {run.id}")
    best = next((t for t in store.trials(run.id) if t.number == run.best), None)
    create_markdown_artifact(best_card(store, finished, best), key=f"{key}-best", description=run.message)
    _write_report(run, plots.publish(run, final=True))


def _write_report(run: RunLifecycle, figures: list[Figure] | None) -> None:
    """The run's HTML report (``servetune report``) in its folder, linked from an artifact. A run with no trial
    recorded has nothing to show; a report that cannot be written is a warning, never the run's failure."""
    logger = get_run_logger()
    try:
        store = run.store
        if not store.trials(run.id):
            return
        from tuning.report.html_report import write_report  # draws with matplotlib: imported by the drawer only

        path = write_report(store, store.find_run(run.id), figures=figures, gpus=run.deployer.engine.gpu_count)
        create_link_artifact(
            f"file://{path.absolute()}",
            link_text=f"{run.spec.name} report (HTML, self-contained)",
            key=f"{run.spec.name}-report",
            description=f"Report of run {run.id}: plots, leaderboard, best configuration, spec and environment",
        )
        logger.info("report of run %s: %s", run.id, path)
    except Exception as exc:  # the run's result stands, whatever happens to its report
        logger.warning("could not write the report of run %s: %s: %s", run.id, type(exc).__name__, exc)


@flow(name="tune", flow_run_name="{spec.name}")
def tune(spec: TuningSpec, fresh: bool = False) -> TuneSummary:
    """Deploy, benchmark and score each configuration of the spec; report the best one that meets the SLOs.

    A run of the same name that did not complete is continued: its finished trials stand, trials abandoned by
    a process that died are marked failed (and a grid tries their configurations again). ``fresh`` starts
    a new run instead. While another live process runs the name, the flow refuses (RunOwned), naming it.
    """
    flags = check_engine_flags(spec)  # a misspelt flag fails here, before any engine starts
    store, deployer = Store(), deployer_for(spec)
    if spec.hardware.pool is None and (missing := deployer.missing_files()):
        raise FileNotFoundError("; ".join(missing))  # on a pool, the worker's machine is the one that matters
    store.refuse_if_owned(spec.name)  # before the spec is compared: a live owner is the news
    earlier = None if fresh else store.resumable_run(spec.name)
    if earlier is not None:
        _check_resumable(earlier.spec, spec)
    version = f"{flags.distribution} {flags.version}" if flags else "not checked: no engine environment here"
    plots = PlotArtifacts()
    report = partial(_publish, plots)
    with RunLifecycle(spec, store, deployer, resume=earlier, report=report, engine_version=version) as run:
        search = _open_search(spec, run)
        _search(spec, run, search, plots)
        _confirm_leaders(spec, run, search, plots)
        return _conclude(spec, run)
