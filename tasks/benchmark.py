from __future__ import annotations

import re
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from benchmarks import Settles, run_genai_bench
from deployers import Deployer, Deployment
from tuning.evaluation.goodput import RequestLimits
from tuning.evaluation.metrics import BenchmarkResult
from tuning.spec import TuningSpec


def scenario_folder(scenario: str) -> str:
    """A traffic scenario as a folder name: ``D(100,100)`` -> ``D_100_100``."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", scenario).strip("_")


def run_folder(scenario: str, levels: list[int], ladder: list[int]) -> str:
    """Where one genai-bench run writes: the scenario's folder, and a folder per bisection step beside it."""
    return scenario_folder(scenario) + ("" if levels == ladder else "-x" + "-".join(map(str, levels)))


@task(name="benchmark", task_run_name="benchmark-{scenario} x{levels}", cache_policy=NO_CACHE)
def benchmark(
    spec: TuningSpec,
    deployer: Deployer,
    deployment: Deployment,
    out_dir: str,
    scenario: str,
    levels: list[int],
    settles: Settles | None = None,
) -> BenchmarkResult:
    """Load the engine with one genai-bench run over ``levels`` of one traffic scenario, in ascending order; one
    round per level, each handed to ``settles`` as it lands, which may end the run there.

    The timeout is what is left of ``timeouts.benchmark``; when it fires, genai-bench is stopped. A deployer that
    makes its rounds itself (``Deployer.measure``, a replay) makes them instead, through the same ``settles``.
    """
    folder = Path(out_dir) / run_folder(scenario, levels, spec.benchmark.concurrency)
    if (own := deployer.measure(deployment, scenario, levels, folder, settles)) is not None:
        return own
    return run_genai_bench(
        deployment.endpoint,
        spec.model,
        deployer.engine.api_backend,
        spec.benchmark.model_copy(update={"traffic_scenarios": [scenario]}),
        folder,
        label=deployment.helper_label("genai-bench"),
        settles=settles,
        levels=levels,
        limits=RequestLimits.of(spec),
    )
