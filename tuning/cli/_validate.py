"""``servetune validate``: a spec checked the way a run would use it, and what it would run."""

from __future__ import annotations

import argparse
import shlex

from tuning.cli._presets import dimension_text
from tuning.errors import ExitCode, ServetuneError
from tuning.search.space import SearchSpaceError, configurations, grid_size
from tuning.spec import BenchmarkSpec, Configuration, LoadMode, StrategyName, TuningSpec, WarmStartMode
from tuning.spec.loading import SpecError, load_spec


def load(path: str) -> tuple[TuningSpec, list[Configuration]]:
    """The spec, and the configurations it will run when they are known in advance (the grid).

    Everything a run would refuse is refused here, before anything starts: the spec's fields, a search space
    its strategy cannot walk or draw from, and a strategy whose extra is not installed.
    """
    from tuning.search.optuna_space import distribution
    from tuning.search.samplers import SAMPLERS

    spec = load_spec(path)
    if missing := spec.benchmark.missing_files():
        raise SpecError(path, missing)
    try:
        if spec.strategy.name is StrategyName.grid:
            return spec, configurations(spec)
        for name, dimension in spec.search_space.items():
            distribution(name, dimension, walk_grid=False)  # a sampler must be able to draw from every dimension
    except SearchSpaceError as exc:
        raise SpecError(path, [str(exc)]) from None
    try:
        SAMPLERS[spec.strategy.name](spec.strategy)  # raises MissingExtra, naming the extra to install
    except ServetuneError:
        raise
    except ValueError as exc:  # a setting the sampler itself refuses: the user's to fix, not a crash
        raise SpecError(path, [f"strategy: {exc}"]) from None
    return spec, []


def benchmark_text(bench: BenchmarkSpec) -> str:
    """What a trial's benchmark will measure, in one line."""
    scenarios, levels = bench.traffic_scenarios, bench.concurrency
    if bench.mode is LoadMode.capacity:
        shape = (
            f"capacity per scenario {scenarios}: ladder x{levels} up to the first level that breaks a hard SLO, "
            f"then bisection to within {bench.resolution:.0%}"
        )
    else:
        shape = f"{len(scenarios) * len(levels)} round(s) per trial: scenarios {scenarios} x concurrency {levels}"
    prompts = f"; prompts from {bench.dataset.path or bench.dataset.config}" if bench.dataset else ""
    return f"benchmark: {shape}, {bench.max_requests_per_run} requests each{prompts}"


def params_text(params: Configuration) -> str:
    return " ".join(f"{k}={v!r}" for k, v in params.items()) or "(engine defaults)"


def _memory_fit_text(spec: TuningSpec, fit: tuple[int, list[tuple[Configuration, str]]] | None) -> str:
    memory = f"{spec.hardware.gpu_memory_gib:g} GiB per GPU (hardware.gpu_memory_gib)"
    if fit is None:
        return (
            f"memory fit: not judged before trials: no readable config.json in {spec.model.path}, or a search space "
            "that cannot be listed"
        )
    total, misfits = fit
    if not misfits:
        return f"memory fit: all {total} configuration(s) may fit in {memory}"
    params, why = misfits[0]
    return (
        f"memory fit: {len(misfits)} of {total} configuration(s) cannot fit in {memory} and will be rejected "
        f"without an engine; for one, {params_text(params)} {why}"
    )


def cmd_validate(args: argparse.Namespace) -> int:
    from deployers import deployer_for
    from deployers.engines import engine_adapter, flag_problems
    from deployers.validity import memory_misfits

    spec, configs = load(args.spec)
    # On a pool, the files must be on the worker's machine instead: they cannot be checked here.
    missing = deployer_for(spec).missing_files() if spec.hardware.pool is None else []
    problems, flags, note = flag_problems(spec)  # against the installed engine's own parser
    fit = memory_misfits(spec)
    if fit is not None and fit[1] and len(fit[1]) == fit[0]:
        params, why = fit[1][0]
        problems.append(
            f"hardware.gpu_memory_gib: none of the {fit[0]} configuration(s) fits in "
            f"{spec.hardware.gpu_memory_gib:g} GiB per GPU; {params_text(params)} {why}"
        )
    if missing or problems:
        raise SpecError(args.spec, missing + problems)
    print(f"{args.spec}: valid")
    engine, deployer = spec.engine.name.value, spec.deployer.kind
    print(f"run {spec.name!r}: {engine} serving {spec.model.path} via the {deployer} deployer")
    print(f"engine flags: checked against {flags.label} ({flags.python})" if flags else f"note: {note}")
    if spec.search_space_presets:
        print(f"search space: preset(s) {', '.join(spec.search_space_presets)} merged with the spec's own entries:")
        for name, dimension in spec.search_space.items():
            print(f"  {name}: {dimension_text(dimension)}")
    if neutral := engine_adapter(spec.engine).neutral_lines(spec):
        print(f"engine-neutral dimensions, as {engine} flags:")
        for line in neutral:
            print(f"  {line}")
    if spec.hardware.gpu_memory_gib is not None:
        print(_memory_fit_text(spec, fit))
    first = 1 if spec.measure_defaults else 0
    if spec.measure_defaults:
        again = f", then {spec.confirmation.repeats} more time(s) like the winner" if spec.confirmation.top else ""
        print(f"trial 0: the engine's defaults (engine.args only, measure_defaults){again}; not counted in the budget")
    if configs:
        total = grid_size(spec)
        capped = f" (capped from {total} by strategy.max_trials)" if len(configs) < total else ""
        print(f"strategy grid: {len(configs)} configuration(s){capped}")
        for number, params in enumerate(configs, start=first):
            print(f"  trial {number}: {params_text(params)}")
    else:
        budget = spec.strategy.budget(0)
        if spec.search_space_presets:  # the merged space is printed above
            print(f"strategy {spec.strategy.name.value}: up to {budget} trials sampled from the search space above")
        else:
            print(f"strategy {spec.strategy.name.value}: up to {budget} trials sampled from")
            for name, dimension in spec.search_space.items():
                shown = dimension.values if dimension.values is not None else dimension.model_dump(exclude_none=True)
                print(f"  {name}: {shown}")
    if spec.warm_start.mode is not WarmStartMode.off:
        among = f"runs named {', '.join(spec.warm_start.runs)}" if spec.warm_start.runs else "every completed run"
        how = (
            "as known results"
            if spec.warm_start.mode is WarmStartMode.known
            else (f"running their {spec.warm_start.top} best configurations first")
        )
        print(f"warm start: from {among} with the same model, engine, version, hardware class and workload, {how}")
    print(benchmark_text(spec.benchmark))
    direction = "maximize" if spec.objective.maximize else "minimize"
    over = "scenarios, each at its capacity" if spec.benchmark.mode is LoadMode.capacity else "rounds"
    print(f"objective: {direction} {spec.objective.label}, {spec.objective.aggregate.value} over {over}")
    for slo in spec.slos:
        print(f"slo: {slo.label} ({'hard' if slo.hard else f'soft, penalty {slo.penalty:g}'})")
    if configs:
        argv = deployer_for(spec).preview_command(configs[0])
        print("first trial's engine command (port chosen at deploy time):")
        print(f"  {shlex.join(argv)}")
    return ExitCode.ok
