from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from benchmarks import BenchmarkResult, run_genai_bench
from deployers import Deployment, deployer_for
from tuning.spec import TuningSpec


@task(name="benchmark", cache_policy=NO_CACHE)
def benchmark(spec: TuningSpec, deployment: Deployment, out_dir: str) -> BenchmarkResult:
    """Load the engine with genai-bench under the spec's traffic; one round per scenario and concurrency.

    The timeout is set per run from ``timeouts.benchmark``; when it fires, genai-bench is stopped.
    """
    engine = deployer_for(spec).engine
    return run_genai_bench(
        deployment.endpoint,
        spec.model,
        engine.api_backend,
        spec.benchmark,
        Path(out_dir),
        label=f"{deployment.label}/genai-bench",
    )
