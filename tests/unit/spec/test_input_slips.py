"""Slips a spec's author makes that once passed `servetune validate` and failed at run time, or silently ran
something else: each is refused by validate, naming the field and what it would accept."""

from __future__ import annotations

import pytest

from tests.unit.spec.conftest import Refusal

SPEC = """\
name: slips
model: {path: /models/tiny-llama}
engine: {python: python3}
deployer: {kind: docker, image: vllm/vllm-openai:v0.6.0}
"""


def test_a_key_given_twice_is_refused_naming_both_lines(refusal: Refusal) -> None:
    """YAML keeps the last of two `benchmark:` sections without a word; servetune refuses the file."""
    text = SPEC + "benchmark: {concurrency: [1]}\nbenchmark: {concurrency: [2]}\n"

    message = refusal(text)

    assert "key 'benchmark' is given twice (lines 5 and 6)" in message


def test_a_key_given_twice_in_a_json_spec_is_refused(refusal: Refusal) -> None:
    message = refusal('{"name": "a", "model": {"path": "/m"}, "name": "b"}', name="spec.json")

    assert "key 'name' is given twice" in message


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_nan_and_infinity_are_refused_where_a_number_is_meant(refusal: Refusal, value: str) -> None:
    message = refusal(SPEC + f"slos: [{{metric: ttft, max: {value}}}]\n")

    assert "slos[0].max: Input should be a finite number" in message


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("benchmark: {max_requests_per_run: true}", "benchmark.max_requests_per_run"),
        ("benchmark: {concurrency: [1, true]}", "benchmark.concurrency"),
        ("slos: [{metric: ttft, max: true}]", "slos[0].max"),
        ("timeouts: {ready: false}", "timeouts.ready"),
    ],
)
def test_true_or_false_where_a_number_is_meant_is_refused(refusal: Refusal, section: str, field: str) -> None:
    """Pydantic reads `true` as 1: a slip would run one request per round, or a 1-second SLO."""
    message = refusal(SPEC + section + "\n")

    assert f"{field}: " in message and "is true/false" in message and "takes a number" in message


def test_a_uniform_scenario_with_min_above_max_is_refused(refusal: Refusal) -> None:
    message = refusal(SPEC + 'benchmark: {traffic_scenarios: ["U(100,50)/(10,20)"]}\n')

    assert "benchmark.traffic_scenarios[0]: 'U(100,50)/(10,20)': U(min,max) needs min <= max, and 100 > 50" in message


def test_a_value_pasted_by_mistake_is_shown_by_its_start_and_size(refusal: Refusal) -> None:
    pasted = "x" * 5000

    message = refusal(SPEC + f"benchmark: {{task: {pasted}}}\n")

    assert "benchmark.task: " in message and "(5002 characters)" in message
    assert len(message) < 800


def test_a_local_engine_whose_model_and_virtualenv_are_missing_is_refused(refusal: Refusal) -> None:
    """Before, `validate` said "valid" and the first trial failed after its engine could not start."""
    text = "name: slips\nmodel: {path: /no/such/model}\nengine: {venv: /no/such/venv}\n"

    message = refusal(text)

    assert "model.path: /no/such/model does not exist on this machine" in message
    assert "engine.venv: /no/such/venv/bin/python does not exist on this machine" in message


def test_a_secret_given_as_an_engine_flag_value_is_refused_without_echoing_it(refusal: Refusal) -> None:
    """Flag values are printed in the engine command and stored with each trial: a secret goes through pass_env."""
    message = refusal("name: slips\nmodel: {path: /m}\nengine: {python: python3, args: {api-key: sk-live-123}}\n")

    assert "engine.args: 'api-key' takes a secret" in message and "engine.pass_env" in message
    assert "sk-live-123" not in message


@pytest.mark.parametrize("flag", ["max-num-batched-tokens", "return-tokens-as-token-ids", "tokenizer-mode"])
def test_flags_that_only_mention_tokens_are_not_taken_for_secrets(flag: str) -> None:
    from tuning.spec._base import canonical_flags

    assert canonical_flags({flag: True}) == {flag: True}
