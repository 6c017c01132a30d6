from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from benchmarks import run_genai_bench
from deployers import Deployer, Deployment
from tuning.evaluation.metrics import BenchmarkResult
from tuning.spec import TuningSpec


@task(name="benchmark", task_run_name="benchmark-c{concurrency}", cache_policy=NO_CACHE)
def benchmark(
    spec: TuningSpec, deployer: Deployer, deployment: Deployment, out_dir: str, concurrency: int
) -> BenchmarkResult:
    """Load the engine with genai-bench at one concurrency level; one round per traffic scenario.

    The timeout is what is left of ``timeouts.benchmark``; when it fires, genai-bench is stopped.
    """
    return run_genai_bench(
        deployment.endpoint,
        spec.model,
        deployer.engine.api_backend,
        spec.benchmark.model_copy(update={"concurrency": [concurrency]}),
        Path(out_dir) / f"concurrency-{concurrency}",
        label=f"{deployment.label}/genai-bench",
    )
