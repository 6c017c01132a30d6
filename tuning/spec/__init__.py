"""The spec: the one schema that the CLI, the Prefect run form, the database and the docs derive from."""

from tuning.spec._base import Configuration, ParamValue, StrictModel
from tuning.spec._benchmark import BATCHED_TASKS, SCENARIO_PATTERNS, BenchmarkSpec, BenchmarkTask, LoadMode
from tuning.spec._dataset import DatasetError, DatasetSpec, looks_local, read_prompts
from tuning.spec._deployer import (
    DeployerSpec,
    DockerDeployerSpec,
    LocalDeployerSpec,
    OmeDeployerSpec,
    ReplayDeployerSpec,
)
from tuning.spec._engine import EngineName, EngineSpec, ModelSpec
from tuning.spec._objective import (
    CAPACITY_METRICS,
    LATENCY_METRICS,
    OBJECTIVE_PRESETS,
    PER_REQUEST_METRICS,
    Aggregate,
    ObjectiveMetric,
    ObjectiveSpec,
    PickRule,
    SLOMetric,
    SLOSpec,
    Statistic,
)
from tuning.spec._search import (
    DEFAULT_SAMPLED_TRIALS,
    NEUTRAL_DIMENSIONS,
    SETTLED_AFTER_REPEATS,
    ConfirmationSpec,
    Dimension,
    HardwareSpec,
    StrategyName,
    StrategySpec,
)
from tuning.spec._tuning import RegressionBaseline, RegressionSpec, TimeoutSpec, TuningSpec

__all__ = [
    "BATCHED_TASKS",
    "CAPACITY_METRICS",
    "DEFAULT_SAMPLED_TRIALS",
    "LATENCY_METRICS",
    "NEUTRAL_DIMENSIONS",
    "OBJECTIVE_PRESETS",
    "PER_REQUEST_METRICS",
    "SCENARIO_PATTERNS",
    "SETTLED_AFTER_REPEATS",
    "Aggregate",
    "BenchmarkSpec",
    "BenchmarkTask",
    "Configuration",
    "ConfirmationSpec",
    "DatasetError",
    "DatasetSpec",
    "DeployerSpec",
    "Dimension",
    "DockerDeployerSpec",
    "EngineName",
    "EngineSpec",
    "HardwareSpec",
    "LoadMode",
    "LocalDeployerSpec",
    "ModelSpec",
    "ObjectiveMetric",
    "ObjectiveSpec",
    "OmeDeployerSpec",
    "ParamValue",
    "PickRule",
    "RegressionBaseline",
    "RegressionSpec",
    "ReplayDeployerSpec",
    "SLOMetric",
    "SLOSpec",
    "Statistic",
    "StrategyName",
    "StrategySpec",
    "StrictModel",
    "TimeoutSpec",
    "TuningSpec",
    "looks_local",
    "read_prompts",
]
