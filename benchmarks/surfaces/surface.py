"""A response surface: how every configuration of a search space did when measured for real, as a CSV table.

The format, its reader and writer are ``tuning.evaluation.surface`` (described there): the ``replay`` deployer
reads surfaces too, and deployers cannot import the benchmarks. These names stay here for the scripts of
``benchmarks.surfaces``.
"""

from tuning.evaluation.surface import (
    ERROR_COLUMN,
    GPUS_COLUMN,
    METRIC_COLUMNS,
    PARAM_PREFIX,
    REQUIRED_METRIC_COLUMNS,
    STATE_COLUMN,
    STATES,
    TRIAL_COLUMN,
    Measurement,
    Surface,
    SurfaceError,
    SurfaceGap,
    config_key,
    header,
    read_surface,
    write_surface,
)

__all__ = [
    "ERROR_COLUMN",
    "GPUS_COLUMN",
    "METRIC_COLUMNS",
    "PARAM_PREFIX",
    "REQUIRED_METRIC_COLUMNS",
    "STATES",
    "STATE_COLUMN",
    "TRIAL_COLUMN",
    "Measurement",
    "Surface",
    "SurfaceError",
    "SurfaceGap",
    "config_key",
    "header",
    "read_surface",
    "write_surface",
]
