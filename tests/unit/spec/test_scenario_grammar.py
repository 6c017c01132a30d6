"""servetune's traffic-scenario check against genai-bench's own validator.

genai-bench cannot be imported in the test process (its load generator monkey-patches threading with
gevent on import), so its validator runs once in a subprocess and reports which strings it accepts.
"""

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from tuning.spec import SCENARIO_PATTERNS, BenchmarkSpec, BenchmarkTask

CORPUS = [
    "D(100,100)",
    "D(100",
    "D(100,",
    "N(480,240)/(300,150)",
    "N(480,240)",
    "U(50,100)/(200,250)",
    "U(100,200)",
    "D(100,100),D(200,200)",
    "X(1)",
    "D(100, 100)",
    "d(100,100)",
    "D(1,2)x",
    # more edges of the same grammar
    "D(0,0)",
    "D(-1,5)",
    "D(1.5,2)",
    "N(480,240)/(300,150)/(1,1)",
    "U(50,100)/(200,250)x",
    "N(480,240)/(300,150",
    "D(100,100)/(1,1)",
    # embeddings and rerank
    "E(64)",
    "E(64,1)",
    "E()",
    "R(32,8)",
    "R(32)",
    "R(32,8)/(1,1)",
]

GENAI_BENCH_SCRIPT = """
import json, sys
from genai_bench.scenarios.base import EmbeddingDistribution, ReRankDistribution, Scenario, TextDistribution
import genai_bench.scenarios  # registers the scenario classes

accepted = {}
for scenario in json.loads(sys.argv[1]):
    try:
        accepted[scenario] = bool(Scenario.validate(scenario))
    except ValueError:
        accepted[scenario] = False
kinds = [*TextDistribution, *EmbeddingDistribution, *ReRankDistribution]
text_types = sorted(t.value for t in kinds if len(t.value) == 1)  # "dataset" is no grammar, only a name
print("RESULT " + json.dumps({"accepted": accepted, "text_types": text_types}))
"""


@pytest.fixture(scope="module")
def genai_bench(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("genai-bench-validator")
    done = subprocess.run(
        [sys.executable, "-c", GENAI_BENCH_SCRIPT, json.dumps(CORPUS)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def servetune_accepts(scenario):
    """Whether servetune accepts the scenario for some task: each task takes its own kinds of scenario."""
    for task in BenchmarkTask:
        try:
            spec = BenchmarkSpec(task=task, traffic_scenarios=[scenario])
        except ValidationError:
            continue
        # What servetune accepts it hands to genai-bench unchanged.
        assert spec.traffic_scenarios == [scenario]
        return True
    return False


def test_genai_bench_validator_ran_and_accepts_the_documented_examples(genai_bench):
    accepted = genai_bench["accepted"]

    assert accepted["D(100,100)"] is True
    assert accepted["N(480,240)/(300,150)"] is True
    assert accepted["X(1)"] is False


def test_servetune_knows_exactly_genai_benchs_scenario_types(genai_bench):
    assert sorted(SCENARIO_PATTERNS) == genai_bench["text_types"]


@pytest.mark.parametrize("scenario", CORPUS)
def test_servetune_accepts_a_scenario_exactly_when_genai_bench_does(genai_bench, scenario):
    assert servetune_accepts(scenario) is genai_bench["accepted"][scenario]
