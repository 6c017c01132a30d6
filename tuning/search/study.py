"""Which configuration to try next: an Optuna study, stored in the same database as servetune's tables.

The study, not a process's memory, says what has been asked and told. Each strategy is an Optuna sampler
made by a small factory in ``tuning.search.samplers``; adding one is adding a module there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaTrialState

from tuning.search.known import KnownResult, best_first
from tuning.search.optuna_space import OptunaSpace
from tuning.search.samplers import SAMPLERS
from tuning.search.samplers.constraints import (
    ABANDONED_ATTR,
    CONSTRAINTS_ATTR,
    FAILED_ATTR,
    FAILURE_CONSTRAINT,
    hard_slo_constraints,
    told_constraint,
)
from tuning.search.space import configurations, grid_size
from tuning.spec import SETTLED_AFTER_REPEATS, Configuration, StrategyName, TuningSpec

__all__ = ["CONSTRAINTS_ATTR", "FAILED_ATTR", "Reporter", "Search", "TrialNote", "study_name", "study_storage"]

# Trial attribute of a confirmation run: the number of the trial it measures again.
CONFIRMS_ATTR = "servetune_confirms"
# Trial attribute of a repeat: the number of the earlier trial whose result it was told.
REPEATS_ATTR = "servetune_repeats"
# Trial attribute of a measurement of the engine's defaults (``measure_defaults``): it has no searched parameter.
DEFAULTS_ATTR = "servetune_defaults"
# Trial attribute of a result an earlier run measured (``warm_start``): where it comes from. Not measured here.
KNOWN_ATTR = "servetune_known_from"
# Trial attribute of a defaults measurement that succeeded: its values, as the study keeps it FAIL (see _new_trial).
VALUES_ATTR = "servetune_values"
# A told trial's reason is cut to this length: optuna-dashboard shows it in a table cell.
REASON_LENGTH = 160


@dataclass(frozen=True)
class TrialNote:
    """How servetune saw a trial, kept as the trial's user attributes so that optuna-dashboard shows it beside
    Optuna's own state (which has no word for infeasible, rejected or repeated): servetune's ``state``, the
    ``reason`` it ended so, and the ``folder`` of its engine log and benchmark results."""

    state: str
    reason: str = ""
    folder: str | None = None

    def attrs(self) -> dict[str, str]:
        lines = self.reason.strip().splitlines()
        reason = lines[0] if lines else ""
        if len(reason) > REASON_LENGTH:
            reason = reason[: REASON_LENGTH - 3] + "..."
        attrs = {"state": str(self.state)}
        if reason:
            attrs["reason"] = reason
        if self.folder:
            attrs["folder"] = self.folder
        return attrs


def study_name(run_id: str) -> str:
    return f"servetune-{run_id}"


PRUNERS: dict[str, Callable[[TuningSpec], BasePruner]] = {
    "none": lambda spec: NopPruner(),
    # A level's score is compared once two trials have reached it; the first level is never judged alone.
    "median": lambda spec: MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    "hyperband": lambda spec: HyperbandPruner(min_resource=1, max_resource=len(spec.benchmark.concurrency)),
}


def study_storage(url: str) -> optuna.storages.RDBStorage:
    """The study's storage; a pooled connection is checked before use, so a database restarted mid-run (its pooled
    connections closed under it) costs a reconnect, not the run."""
    return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})


class Search:
    """Asks the study for configurations and tells it how each one did."""

    def __init__(
        self,
        spec: TuningSpec,
        name: str,
        storage_url: str | None,
        run_id: str | None = None,
        measure_defaults: bool = False,
    ) -> None:
        """``storage_url`` None keeps the study in memory (a replay of a recorded surface); ``run_id`` names the
        servetune run on the study, for whoever reads it in optuna-dashboard. ``measure_defaults`` starts a trial
        of the engine's defaults, numbered before the grid's points, as ``defaults``."""
        strategy = spec.strategy
        walk_grid = strategy.name is StrategyName.grid
        self.budget = strategy.budget(grid_size(spec) if walk_grid else 0)
        self._storage = optuna.storages.InMemoryStorage() if storage_url is None else study_storage(storage_url)
        self.study = optuna.create_study(
            study_name=name,
            storage=self._storage,
            sampler=SAMPLERS[strategy.name](strategy),
            pruner=PRUNERS[strategy.pruner](spec),
            directions=["maximize" if o.maximize else "minimize" for o in spec.objectives],
            load_if_exists=True,
        )
        recorded = next((t.distributions for t in self.study.get_trials(deepcopy=False) if t.distributions), {})
        self.space = OptunaSpace(spec.search_space, walk_grid, recorded)
        self.distributions = self.space.distributions
        self.walk_grid = walk_grid
        # One Optuna constraint per hard SLO: what a configuration that cannot run is told it broke.
        self._hard_slos = sum(slo.hard for slo in spec.slos)
        self._live: dict[int, optuna.Trial] = {}
        self._outside_model: set[int] = set()  # the defaults' measurements: told to the study, not to its sampler
        new = not self.study.trials
        # Before the grid is queued: queued points take their trial numbers, and the defaults are trial 0.
        self.defaults = self._new_trial({}, {DEFAULTS_ATTR: True}) if measure_defaults else None
        if walk_grid and new:
            for params in configurations(spec):
                self.study.enqueue_trial(params, skip_if_exists=True)
        self._label(spec, run_id)
        self._seed = strategy.seed
        self._draws: optuna.Study | None = None
        self.exhausted = False

    def _label(self, spec: TuningSpec, run_id: str | None) -> None:
        """Name the study's objectives and its run, so optuna-dashboard's plots and study list read in servetune's
        words rather than "Objective 0" of "servetune-<id>"."""
        names = [objective.label for objective in spec.objectives]
        if self.study.metric_names != names:
            with warnings.catch_warnings():  # experimental since Optuna 3.2, and the way to name objectives since
                warnings.simplefilter("ignore", ExperimentalWarning)
                self.study.set_metric_names(names)
        if run_id is not None:
            labels = {"run": run_id, "spec": spec.name, "objective": ", ".join(names)}
            for key, value in labels.items():
                if self.study.user_attrs.get(key) != value:
                    self.study.set_user_attr(key, value)

    def _note(self, number: int, note: TrialNote | None) -> None:
        for key, value in (note.attrs() if note else {}).items():
            self._live[number].set_user_attr(key, value)

    def abandon(self, numbers: list[int]) -> None:
        """Trials whose process died: FAIL to the study and not counted; a grid asks their points again."""
        if not numbers:
            return
        for number in numbers:
            self.study.tell(number, state=OptunaTrialState.FAIL, skip_if_finished=True)
            attrs = self.study.trials[number].user_attrs
            if self.walk_grid and CONFIRMS_ATTR not in attrs and DEFAULTS_ATTR not in attrs:
                self.study.enqueue_trial(self.study.trials[number].params)
        known = set(self.study.user_attrs.get(ABANDONED_ATTR, []))
        self.study.set_user_attr(ABANDONED_ATTR, sorted(known | set(numbers)))

    def _searched(self) -> list[FrozenTrial]:
        """Trials the search asked, in order: not waiting grid points, abandoned trials, confirmation runs, the
        defaults' measurements or results known from earlier runs."""
        abandoned = set(self.study.user_attrs.get(ABANDONED_ATTR, []))
        asked = [t for t in self.study.get_trials(deepcopy=False) if t.state is not OptunaTrialState.WAITING]
        not_searched = (CONFIRMS_ATTR, DEFAULTS_ATTR, KNOWN_ATTR)
        return [t for t in asked if t.number not in abandoned and not any(a in t.user_attrs for a in not_searched)]

    @property
    def spent(self) -> int:
        """Configurations the search ran: what counts against the budget.

        A repeat costs no engine time (its earlier result is reused), so it does not count; nor does a trial
        whose process died.
        """
        return sum(REPEATS_ATTR not in t.user_attrs for t in self._searched())

    def ask(self) -> tuple[int, Configuration] | None:
        """The next trial number and configuration, or None once the budget is spent.

        When the sampler has settled (its last ``SETTLED_AFTER_REPEATS`` asks all repeated measured
        configurations), the next configuration is one not measured yet, drawn at random, so the budget goes to
        new configurations. If none is found the search ends early, with ``exhausted`` set.
        """
        # Enqueued grid points wait in the study as WAITING trials; only asked ones spend the budget.
        searched = self._searched()
        if sum(REPEATS_ATTR not in t.user_attrs for t in searched) >= self.budget:
            return None
        recent = searched[-SETTLED_AFTER_REPEATS:]
        if len(recent) == SETTLED_AFTER_REPEATS and all(REPEATS_ATTR in t.user_attrs for t in recent):
            if (untried := self._draw_untried()) is None:
                self.exhausted = True
                return None
            self.study.enqueue_trial(untried)
        while True:
            trial = self.study.ask(self.distributions)
            if not self.walk_grid or self._grid_point_is_mine(trial.number):
                break
            # Not this process's to run: told FAIL and not counted against the budget.
            self.study.tell(trial, state=OptunaTrialState.FAIL)
            known = set(self.study.user_attrs.get(ABANDONED_ATTR, []))
            self.study.set_user_attr(ABANDONED_ATTR, sorted(known | {trial.number}))
            if "fixed_params" not in self._frozen(trial.number).system_attrs:
                return None  # another process took the last grid point between the budget check and this ask
        self._live[trial.number] = trial
        return trial.number, self.space.configuration(trial.params)

    def _draw_untried(self, attempts: int = 1000) -> dict | None:
        """Study parameters of a configuration no trial has measured, drawn at random; None if ``attempts``
        draws find none (on a finite space, most likely every configuration has been measured)."""
        if self._draws is None:  # in memory, apart from the run's study: these draws are not trials
            self._draws = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=self._seed))
        completed = self._completed_here()
        for _ in range(attempts):
            params = self.space.draw(self._draws)
            if self._measured_among(completed, self.space.configuration(params)) is None:
                return params
        return None

    def _grid_point_is_mine(self, number: int) -> bool:
        """Whether a popped grid trial is the one to run: a grid point, and no earlier live trial holds it.

        Processes that open the same new run at once may both enqueue the grid; of two copies of a point, only
        the lower-numbered one runs, whoever pops it.
        """
        trials = self.study.get_trials(deepcopy=False)
        mine = next(t for t in trials if t.number == number)
        if "fixed_params" not in mine.system_attrs:
            return False
        point = mine.system_attrs["fixed_params"]
        return not any(
            t.number < number
            and t.state is not OptunaTrialState.FAIL
            and CONFIRMS_ATTR not in t.user_attrs
            and t.system_attrs.get("fixed_params", t.params) == point
            for t in trials
        )

    def _frozen(self, number: int) -> FrozenTrial:
        # optuna.Trial no longer exposes system_attrs (Optuna 5); the stored trial does.
        return next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)

    def _completed_here(self) -> list[FrozenTrial]:
        """Completed trials this run measured (not results known from earlier runs)."""
        completed = self.study.get_trials(deepcopy=False, states=(OptunaTrialState.COMPLETE,))
        return [t for t in completed if KNOWN_ATTR not in t.user_attrs and FAILED_ATTR not in t.user_attrs]

    def measured(self, params: Configuration) -> FrozenTrial | None:
        """An earlier completed trial of this run with exactly these parameters, whose result can be reused."""
        return self._measured_among(self._completed_here(), params)

    def _fitting(self, known: Sequence[KnownResult]) -> list[tuple[KnownResult, dict]]:
        """The results expressible in this study's space, with their study parameters: every searched flag set,
        each value within its dimension; the others cannot be told to the sampler."""
        fitting = []
        for result in known:
            if set(result.params) != set(self.distributions):
                continue
            try:
                params = self.space.params(result.params)
                # create_trial checks each value against its distribution, as Optuna would on add_trial.
                optuna.trial.create_trial(params=params, distributions=self.distributions, value=0.0)
            except ValueError:
                continue
            fitting.append((result, params))
        return fitting

    def learn(self, known: Sequence[KnownResult]) -> list[KnownResult]:
        """Tell the sampler what earlier runs measured, before it proposes anything; returns those it was told.

        They are COMPLETE trials marked with their source: not counted against the budget, and not reused as this
        run's measurements (a configuration proposed again is measured here)."""
        told = []
        for result, params in self._fitting(known):
            values = list(result.values)
            if len(values) != len(self.study.directions):
                continue
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions={name: self.distributions[name] for name in params},
                    values=values,
                    user_attrs={KNOWN_ATTR: result.source, CONSTRAINTS_ATTR: list(result.constraints)},
                    # Named by position, as ``_set_constraints`` names a measured trial's.
                    constraints={str(i): told_constraint(v) for i, v in enumerate(result.constraints)} or None,
                )
            )
            told.append(result)
        return told

    def first_candidates(self, known: Sequence[KnownResult], top: int, maximize: bool) -> list[KnownResult]:
        """Queue the ``top`` best earlier configurations (feasible first) as this run's first trials."""
        fitting = {id(result): params for result, params in self._fitting(known)}
        chosen = [r for r in best_first([r for r in known if id(r) in fitting], maximize) if r.feasible][:top]
        for result in chosen:
            self.study.enqueue_trial(fitting[id(result)], skip_if_exists=True)
        return chosen

    def _measured_among(self, trials: list[FrozenTrial], params: Configuration) -> FrozenTrial | None:
        for trial in trials:
            measured = self.space.configuration(trial.params)
            if measured == params and all(type(measured[k]) is type(v) for k, v in params.items()):
                return trial
        return None

    def tell_repeat(self, number: int, earlier: FrozenTrial, note: TrialNote | None = None) -> None:
        """A trial whose configuration ``earlier`` measured: told the same result, and not counted as spent."""
        self._live[number].set_user_attr(REPEATS_ATTR, earlier.number)
        self.tell_value(number, earlier.values, hard_slo_constraints(earlier), note)

    def ask_confirmation(self, params: Configuration, original: int) -> int:
        """A trial that measures ``params`` again (after the search); the study keeps it with the others.
        Confirming the defaults (``params`` empty) is another measurement of them."""
        if not params:
            return self._new_trial({}, {CONFIRMS_ATTR: original, DEFAULTS_ATTR: True})
        return self._new_trial(self.space.params(params), {CONFIRMS_ATTR: original})

    def _new_trial(self, params: dict, user_attrs: dict) -> int:
        """A running trial with these study parameters, made directly: ``study.ask`` would first pop a grid
        point still waiting in the queue.

        A measurement of the engine's defaults (no searched parameter, not counted against the budget) is told to
        the study, so optuna-dashboard lists it with its note, but kept from the sampler: a completed trial without
        the searched parameters would empty the search space that GP and multivariate TPE model."""
        template = optuna.trial.create_trial(
            state=OptunaTrialState.RUNNING,
            params=params,
            distributions={name: self.distributions[name] for name in params},
            user_attrs=user_attrs,
        )
        trial_id = self._storage.create_new_trial(self._storage.get_study_id_from_name(self.study.study_name), template)
        trial = optuna.Trial(self.study, trial_id)
        self._live[trial.number] = trial
        if DEFAULTS_ATTR in user_attrs:
            self._outside_model.add(trial.number)
        return trial.number

    def tell_value(
        self, number: int, value: float | Sequence[float], constraints: Sequence[float], note: TrialNote | None = None
    ) -> None:
        """A scored trial: one value per objective (a bare number for one objective), and its hard-SLO
        constraints. Each ``tell_*`` keeps ``note`` on the trial as user attributes."""
        values = [float(value)] if isinstance(value, int | float) else [float(v) for v in value]
        objectives = len(self.study.directions)
        if len(values) != objectives:
            raise ValueError(f"trial {number}: the study has {objectives} objective(s) but was told {values}")
        self._set_constraints(number, constraints)
        self._note(number, note)
        if number in self._outside_model:
            self._live[number].set_user_attr(VALUES_ATTR, values)
            self.study.tell(self._live.pop(number), state=OptunaTrialState.FAIL)
            return
        self.study.tell(self._live.pop(number), values)

    def _set_constraints(self, number: int, constraints: Sequence[float], told: Sequence[float] | None = None) -> None:
        """One Optuna constraint per hard SLO, named by position as Optuna's older ``constraints_func`` stored
        them, so a study begun that way reads the same. The sampler is told ``told``, by default each measured
        excess through ``told_constraint``; the measured ones are kept as they are."""
        trial = self._live[number]
        trial.set_user_attr(CONSTRAINTS_ATTR, list(constraints))
        for position, value in enumerate(told if told is not None else map(told_constraint, constraints)):
            trial.set_constraint(str(position), value)

    def tell_infeasible(self, number: int, note: TrialNote | None = None) -> None:
        """A configuration that cannot run: its engine crashed, ran out of memory, refused it or never served; or
        it was rejected before any engine started (too many GPUs, flags the engine refuses, too big for a GPU).

        Most samplers skip a FAIL trial, so a search told only that keeps proposing the region that fails; on GPU
        spaces, where a fifth to a third of the configurations cannot run, that costs it more trials than random
        search. So the failure is told as a COMPLETE trial that breaks every constraint (one per hard SLO) with
        the worst value told so far: TPE ranks it below every feasible trial, and the GP's
        constraint models learn where failures lie. It is marked, so it is never reused as a measurement.
        """
        values = self._worst_values()
        if values is None or number in self._outside_model:
            self.tell_failed(number, note)
            return
        self._live[number].set_user_attr(FAILED_ATTR, True)
        broken = [FAILURE_CONSTRAINT] * self._hard_slos
        self._set_constraints(number, broken, told=broken)
        self._note(number, note)
        self.study.tell(self._live.pop(number), values)

    def _worst_values(self) -> list[float] | None:
        """Per objective, the worst value told so far; for a maximised one, 0 when none was (no throughput).
        None when a minimised objective has no value yet: then there is nothing to rank a failure below."""
        told = [t.values for t in self.study.get_trials(deepcopy=False, states=(OptunaTrialState.COMPLETE,))]
        worst = []
        for i, direction in enumerate(self.study.directions):
            seen = [v[i] for v in told]
            if direction is optuna.study.StudyDirection.MAXIMIZE:
                worst.append(min(seen) if seen else 0.0)
            elif seen:
                worst.append(max(seen))
            else:
                return None
        return worst

    def tell_pruned(self, number: int, note: TrialNote | None = None) -> None:
        self._note(number, note)
        pruned = OptunaTrialState.FAIL if number in self._outside_model else OptunaTrialState.PRUNED
        self.study.tell(self._live.pop(number), state=pruned)

    def tell_failed(self, number: int, note: TrialNote | None = None) -> None:
        """A trial that did not produce a score is FAIL to Optuna, never a value of plus or minus infinity."""
        self._note(number, note)
        self.study.tell(self._live.pop(number), state=OptunaTrialState.FAIL)


class Reporter:
    """A running trial's side of the study: report the score after each concurrency level, ask the pruner.

    It loads the study from storage, so it works from whichever process runs the trial.
    """

    def __init__(self, spec: TuningSpec, run_id: str, number: int, storage_url: str) -> None:
        study = optuna.load_study(
            study_name=study_name(run_id),
            storage=study_storage(storage_url),
            pruner=PRUNERS[spec.strategy.pruner](spec),
        )
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        # Optuna hands a Trial only to the process that asked for it; this one is rebuilt from its storage id.
        self.trial = optuna.Trial(study, frozen._trial_id)
        # Optuna prunes single-objective studies only (the spec refuses a pruner with several objectives); a
        # multi-objective trial still stops at a broken hard SLO, which needs no report.
        self.single_objective = len(study.directions) == 1

    def report(self, value: float, step: int) -> None:
        if self.single_objective:
            self.trial.report(value, step)

    def should_prune(self) -> bool:
        return self.single_objective and self.trial.should_prune()
