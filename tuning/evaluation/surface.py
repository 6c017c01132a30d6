"""A response surface: how every configuration of a search space did when measured for real, as a CSV table.

Format (one header row, then one row per configuration and benchmark round; UTF-8, RFC 4180 quoting):

``trial``
    Number of the stored trial the row comes from (for tracing a row back to its engine log and results).
``param:<flag>``
    One column per parameter of the search space, named after the engine flag (``param:max-num-seqs``). Each
    cell is the value as JSON, so its type survives: ``8`` (int), ``0.9`` (float), ``true`` (bool), ``"fp8"``
    (string). A ``:`` cannot occur in a flag name, so these columns never clash with the others.
``state``
    ``succeeded``: the configuration was benchmarked; one row per round it ran.
    ``pruned``: a pruner stopped it after some concurrency levels; one row per round it ran.
    ``failed``: it produced no benchmark (the engine did not start, a timeout, flags the engine refused); one
    row with the metric cells empty.
``error``
    For ``failed``: the first line of the trial's error, prefixed with servetune's trial state when that was
    more specific than ``failed`` (``timed_out: ...``, ``rejected: ...``). Empty otherwise.
``gpus`` (optional)
    How many GPUs the configuration's engine used: what a per-GPU objective divides by. Written only when a
    configuration used more than one; absent (every CPU surface), it is 1.
metric columns
    Exactly the fields of ``tuning.evaluation.metrics.RoundMetrics``, spelled and ordered as there (``scenario``,
    ``concurrency``, ``ttft_mean`` ... ``source_file``); latencies in seconds, throughputs in tokens/s.

A configuration appears once: a surface is a function of the configuration, so confirmation runs and repeats of
a configuration are not rows of their own. A surface recorded with several traffic scenarios or concurrency
levels has a row for each (scenario, concurrency) of each configuration. A configuration whose trial stopped at
a concurrency level because a hard SLO broke has no rows for the levels above it.

Next to ``NAME.csv``, ``NAME.yaml`` is the spec the surface was recorded with: its search space, benchmark,
objective and SLOs are what a replay uses by default.

It lives here, below the deployers and the benchmarks, because both read it: ``benchmarks.surfaces`` replays a
surface for the sample-efficiency script, and the ``replay`` deployer serves one as engine and benchmark.

Noise: with ``noise=s`` every float metric of a replayed round is multiplied by ``exp(s * z)``, ``z`` standard
normal. Values stay positive, and ``s`` is roughly the relative standard deviation (0.05: about 5%). Counts and
the error rate are kept.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.spec import Configuration

PARAM_PREFIX = "param:"
TRIAL_COLUMN, STATE_COLUMN, ERROR_COLUMN, GPUS_COLUMN = "trial", "state", "error", "gpus"
# The metric columns are RoundMetrics' own fields, so a metric is spelled once in the whole project.
METRIC_COLUMNS: tuple[str, ...] = tuple(RoundMetrics.model_fields)
# Surfaces recorded before the per-request metrics (goodput and the like) lack their columns, or leave them empty.
REQUIRED_METRIC_COLUMNS = tuple(name for name, field in RoundMetrics.model_fields.items() if field.is_required())
# A surface keeps three of the trial states: a configuration was benchmarked (in full or until pruned), or not.
STATES = (TrialState.succeeded, TrialState.pruned, TrialState.failed)


# Metrics noise leaves alone: counts, and the error rate (a fraction of requests, not a timing).
_EXACT = frozenset({"error_rate"})


class SurfaceError(ValueError):
    """A surface file that cannot be read; the message names the file, the row and the column."""


class SurfaceGap(LookupError):
    """The spec asks for a configuration, scenario or concurrency level that the surface did not record."""


def config_key(params: Configuration) -> str:
    """A configuration as a hashable key that keeps value types apart (``1``, ``1.0`` and ``true`` differ)."""
    return json.dumps(params, sort_keys=True)


@dataclass
class Measurement:
    """One configuration of a surface: how its trial ended and its benchmark rounds."""

    trial: int
    params: Configuration
    state: TrialState
    error: str = ""
    rounds: dict[tuple[str, int], RoundMetrics] = field(default_factory=dict)
    gpus: int = 1

    @property
    def benchmarked(self) -> bool:
        return self.state is not TrialState.failed


@dataclass
class Surface:
    parameters: list[str]
    measurements: dict[str, Measurement]
    source: str = "surface"

    def __len__(self) -> int:
        return len(self.measurements)

    def get(self, params: Configuration) -> Measurement | None:
        return self.measurements.get(config_key(params))

    def measurement(self, params: Configuration) -> Measurement:
        """How ``params`` did; SurfaceGap when the surface never ran it."""
        if (measurement := self.get(params)) is None:
            raise SurfaceGap(f"{self.source} has no configuration {params}")
        return measurement

    def round(self, params: Configuration, scenario: str, concurrency: int) -> RoundMetrics:
        """The round ``params`` ran of ``scenario`` at ``concurrency``; SurfaceGap when it ran none."""
        measurement = self.measurement(params)
        round_ = measurement.rounds.get((scenario, concurrency))
        if round_ is None:
            raise SurfaceGap(
                f"{self.source} has no round {scenario} at concurrency {concurrency} for {params} "
                f"(recorded: {sorted(measurement.rounds) or measurement.state})"
            )
        return round_

    def gaps(
        self, configurations: Iterable[Configuration], scenarios: Sequence[str], levels: Sequence[int]
    ) -> list[str]:
        """What a run over ``configurations``, ``scenarios`` and ``levels`` would ask that the surface never
        recorded, one line each (the first few of each kind). A configuration that stopped at a level (a broken
        hard SLO) lacks the levels above it by design: a level counts as recorded when any configuration ran it."""
        configurations = list(configurations)
        problems: list[str] = []
        names = sorted({name for params in configurations for name in params})
        if unknown := [name for name in names if name not in self.parameters]:
            problems.append(f"parameters {unknown} are not columns of the surface, which varies {self.parameters}")
        if left_out := [name for name in self.parameters if name not in names]:
            problems.append(f"the surface varies {left_out} too; set them in search_space or engine.args")
        if problems:
            return problems
        absent = [params for params in configurations if self.get(params) is None]
        if absent:
            shown = "; ".join(map(str, absent[:3])) + (f"; and {len(absent) - 3} more" if len(absent) > 3 else "")
            problems.append(f"{len(absent)} configuration(s) of the search space are not in the surface: {shown}")
        slots = {slot for m in self.measurements.values() for slot in m.rounds}
        recorded = sorted(slots, key=lambda slot: (slot[0], slot[1]))
        for scenario in scenarios:
            for level in levels:
                if (scenario, level) not in slots:
                    problems.append(
                        f"traffic scenario {scenario} at concurrency {level} is not in the surface "
                        f"(it recorded {', '.join(f'{s} at {c}' for s, c in recorded) or 'no round'})"
                    )
        return problems


def with_noise(round_: RoundMetrics, noise: float, draws: random.Random) -> RoundMetrics:
    """``round_`` with every float metric but the error rate multiplied by ``exp(noise * z)``, ``z`` drawn from
    ``draws`` (standard normal); ``round_`` itself when ``noise`` is 0."""
    if noise < 0 or not math.isfinite(noise):
        raise ValueError(f"noise must be a finite number >= 0 (a relative spread such as 0.05), not {noise}")
    if not noise:
        return round_
    values = round_.model_dump()
    for name, value in values.items():
        if isinstance(value, float) and name not in _EXACT:
            values[name] = value * math.exp(noise * draws.gauss(0.0, 1.0))
    return RoundMetrics.model_validate(values)


def header(parameters: Sequence[str], gpus: bool = False) -> list[str]:
    lead = [TRIAL_COLUMN, *(PARAM_PREFIX + p for p in parameters), STATE_COLUMN, ERROR_COLUMN]
    return [*lead, *([GPUS_COLUMN] if gpus else []), *METRIC_COLUMNS]


def write_surface(out: TextIO, parameters: Sequence[str], measurements: Iterable[Measurement]) -> int:
    """Write a surface; returns the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    measurements = list(measurements)
    gpus = any(m.gpus != 1 for m in measurements)
    writer.writerow(header(parameters, gpus))
    count = 0
    for m in measurements:
        lead = [m.trial, *(json.dumps(m.params[p]) for p in parameters), m.state, m.error, *([m.gpus] if gpus else [])]
        if not m.rounds:
            writer.writerow([*lead, *([""] * len(METRIC_COLUMNS))])
            count += 1
        for _, round_ in sorted(m.rounds.items()):
            values = round_.model_dump()
            # repr of a float is the shortest text that reads back as the same float.
            writer.writerow([*lead, *(values[c] for c in METRIC_COLUMNS)])
            count += 1
    return count


def _cell_value(text: str, where: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise SurfaceError(f"{where}: {text!r} is not a JSON value (write strings in double quotes)") from None
    if not isinstance(value, bool | int | float | str):
        raise SurfaceError(f"{where}: {text!r} is not a number, a string or true/false")
    return value


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str], list[str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise SurfaceError(f"{path}: cannot read the surface: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        missing = [c for c in (TRIAL_COLUMN, STATE_COLUMN, ERROR_COLUMN, *REQUIRED_METRIC_COLUMNS) if c not in columns]
        if missing:
            raise SurfaceError(f"{path}: not a surface: columns {missing} are missing (header: {columns})")
        for row in reader:
            yield reader.line_num, row, columns


def read_surface(path: str | Path) -> Surface:
    path = Path(path)
    parameters: list[str] = []
    measurements: dict[str, Measurement] = {}
    for line, row, columns in _rows(path):
        parameters = parameters or [c.removeprefix(PARAM_PREFIX) for c in columns if c.startswith(PARAM_PREFIX)]
        where = f"{path}, line {line}"
        params = {p: _cell_value(row[PARAM_PREFIX + p], f"{where}, column {PARAM_PREFIX}{p}") for p in parameters}
        if row[STATE_COLUMN] not in STATES:
            raise SurfaceError(f"{where}, column state: {row[STATE_COLUMN]!r} is not one of {', '.join(STATES)}")
        state = TrialState(row[STATE_COLUMN])
        if not row[TRIAL_COLUMN].isdigit():
            raise SurfaceError(f"{where}, column trial: {row[TRIAL_COLUMN]!r} is not a trial number")
        gpus = row.get(GPUS_COLUMN) or "1"
        if not gpus.isdigit() or int(gpus) < 1:
            raise SurfaceError(f"{where}, column gpus: {gpus!r} is not a number of GPUs")
        key = config_key(params)
        measurement = measurements.setdefault(
            key,
            Measurement(
                trial=int(row[TRIAL_COLUMN]), params=params, state=state, error=row[ERROR_COLUMN], gpus=int(gpus)
            ),
        )
        if measurement.state != state:
            raise SurfaceError(
                f"{where}: {params} is {state.value} here but {measurement.state.value} on an earlier row"
            )
        if state is TrialState.failed:
            continue
        try:
            round_ = RoundMetrics.model_validate(
                {c: row[c] for c in METRIC_COLUMNS if c in REQUIRED_METRIC_COLUMNS or row.get(c)}
            )
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            column = ".".join(str(part) for part in problem["loc"])
            raise SurfaceError(f"{where}, column {column}: {problem['msg']} (given: {row.get(column)!r})") from None
        slot = (round_.scenario, round_.concurrency)
        if slot in measurement.rounds:
            raise SurfaceError(f"{where}: {params} has a second row for {slot[0]} at concurrency {slot[1]}")
        measurement.rounds[slot] = round_
    if not measurements:
        raise SurfaceError(f"{path}: the surface has no rows")
    return Surface(parameters=parameters, measurements=measurements, source=str(path))
