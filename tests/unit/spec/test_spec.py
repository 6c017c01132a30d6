"""The tuning spec as a user meets it: `servetune validate` on a file, and the typed spec it loads into."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from tuning.cli import main
from tuning.spec import TuningSpec
from tuning.spec.loading import SpecError, load_spec, spec_from_data

BASE = {
    "name": "unit",
    "model": {"path": "/models/tiny-llama", "served_name": "tiny-llama"},
    "engine": {"args": {"enforce-eager": True, "max-model-len": 1024}},
    "search_space": {"max-num-seqs": [1, 8], "max-num-batched-tokens": [256, 1024]},
    "benchmark": {"traffic_scenarios": ["D(100,100)"], "concurrency": [1, 4]},
    "objective": {"metric": "output_throughput"},
    "slos": [{"metric": "ttft", "statistic": "p90", "max": 1.0}],
}


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch):
    # main() sets a few variables with os.environ.setdefault; put the environment back afterwards.
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)


def spec_data(**sections):
    """BASE with whole top-level sections replaced (None removes a section)."""
    data = copy.deepcopy(BASE)
    for key, value in sections.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def validate(path, capsys):
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


# --- bad specs: exit code 2 and a message that names the field -------------------------------------

BAD_SPECS = {
    "empty value list": (
        {"search_space": {"max-num-seqs": []}},
        ["search_space.max-num-seqs"],
    ),
    "unknown top-level key": (
        {"serach_space": {"max-num-seqs": [1]}},
        ["serach_space", "unknown field"],
    ),
    "unknown nested key": (
        {"benchmark": {"traffic_scenarios": ["D(100,100)"], "concurency": [1, 4]}},
        ["benchmark.concurency", "unknown field"],
    ),
    "unclosed scenario in second item": (
        {"benchmark": {"traffic_scenarios": ["D(100,100)", "D(100"]}},
        ["benchmark.traffic_scenarios[1]", "D(100"],
    ),
    "negative timeout": (
        {"timeouts": {"ready": -5}},
        ["timeouts.ready", "-5"],
    ),
    "range low above high": (
        {"search_space": {"max-num-seqs": {"low": 16, "high": 4}}},
        ["search_space.max-num-seqs", "16", "4"],
    ),
    "unknown objective metric": (
        {"objective": {"metric": "throughput"}},
        ["objective.metric", "throughput"],
    ),
    "flag with leading dashes in search_space": (
        {"search_space": {"--max-num-seqs": [1, 8]}},
        ["search_space", "--max-num-seqs"],
    ),
    "flag with leading dashes in engine.args": (
        {"engine": {"args": {"--enforce-eager": True}}},
        ["engine.args", "--enforce-eager"],
    ),
    "null value in search_space": (
        {"search_space": {"max-num-seqs": [1, None]}},
        ["search_space.max-num-seqs", "None"],
    ),
    "null value in engine.args": (
        {"engine": {"args": {"max-model-len": None}}},
        ["engine.args.max-model-len"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_spec_exits_2_and_names_the_field(case, tmp_path, capsys):
    sections, expected = BAD_SPECS[case]
    path = write_yaml(tmp_path / "spec.yaml", spec_data(**sections))

    code, out, err = validate(path, capsys)

    assert code == 2
    assert "configuration(s)" not in out
    assert str(path) in err
    for fragment in expected:
        assert fragment in err


@pytest.mark.parametrize("secret", ["hf_Sup3rS3cretV4lue", 987654321987])
def test_secret_in_engine_env_is_rejected_without_echoing_its_value(secret, tmp_path, capsys):
    engine = {"env": {"HF_TOKEN": secret, "VLLM_CPU_KVCACHE_SPACE": "1"}}
    path = write_yaml(tmp_path / "spec.yaml", spec_data(engine=engine))

    code, out, err = validate(path, capsys)

    assert code == 2
    assert "engine.env" in err
    assert "HF_TOKEN" in err
    assert str(secret) not in err + out


def test_yaml_syntax_error_exits_2_naming_the_file(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: unit\nmodel: {path: /models/tiny\nsearch_space: [\n")

    code, _, err = validate(path, capsys)

    assert code == 2
    assert str(path) in err
    assert "YAML" in err


def test_missing_file_exits_2_naming_the_file(tmp_path, capsys):
    path = tmp_path / "does-not-exist.yaml"

    code, _, err = validate(path, capsys)

    assert code == 2
    assert str(path) in err
    assert "cannot read" in err


def test_spec_that_is_not_a_mapping_exits_2(tmp_path, capsys):
    path = tmp_path / "list.yaml"
    path.write_text("- name: unit\n")

    code, _, err = validate(path, capsys)

    assert code == 2
    assert "mapping" in err


def test_valid_spec_exits_0_and_lists_every_configuration(tmp_path, capsys):
    # validate checks a local engine's model folder exists on this machine: give it one
    path = write_yaml(tmp_path / "spec.yaml", spec_data(model={"path": str(tmp_path), "served_name": "tiny-llama"}))

    code, out, err = validate(path, capsys)

    assert code == 0, err
    assert "4 configuration(s)" in out
    for seqs in (1, 8):
        for tokens in (256, 1024):
            assert f"max-num-seqs={seqs} max-num-batched-tokens={tokens}" in out
    assert "vllm.entrypoints.openai.api_server" in out


def test_valid_json_spec_is_accepted(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec_data(model={"path": str(tmp_path)})))

    spec = load_spec(path)
    code, out, err = validate(path, capsys)

    assert spec.search_space["max-num-seqs"].values == [1, 8]
    assert code == 0, err
    assert "4 configuration(s)" in out


def test_invalid_json_spec_exits_2_and_says_json(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text('{"name": "unit", ')

    code, _, err = validate(path, capsys)

    assert code == 2
    assert "JSON" in err


# --- traffic scenarios -------------------------------------------------------------------------------


def test_single_scenario_string_becomes_one_item_and_is_not_split_on_its_comma():
    spec = spec_from_data(spec_data(benchmark={"traffic_scenarios": "D(100,100)"}))

    assert spec.benchmark.traffic_scenarios == ["D(100,100)"]


def test_scenario_list_with_commas_inside_parentheses_keeps_its_length():
    scenarios = ["D(100,100)", "N(480,240)/(300,150)", "U(50,100)/(200,250)"]

    spec = spec_from_data(spec_data(benchmark={"traffic_scenarios": scenarios}))

    assert spec.benchmark.traffic_scenarios == scenarios


def test_two_scenarios_in_one_string_are_rejected_not_silently_split():
    with pytest.raises(SpecError) as excinfo:
        spec_from_data(spec_data(benchmark={"traffic_scenarios": "D(100,100),D(200,200)"}))

    assert any("benchmark.traffic_scenarios" in problem for problem in excinfo.value.problems)


# --- parameter value types ---------------------------------------------------------------------------


def _exact(values):
    return [(type(v), v) for v in values]


EXPECTED_TYPED = [(bool, True), (int, 4), (float, 0.5), (str, "lpm"), (str, "true"), (bool, False)]


def test_parameter_values_keep_their_python_types():
    data = spec_data(search_space={"knob": [True, 4, 0.5, "lpm", "true", False]})

    spec = spec_from_data(data)

    assert _exact(spec.search_space["knob"].values) == EXPECTED_TYPED


def test_yaml_scalars_keep_their_types(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: unit\n"
        "model: {path: /models/tiny}\n"
        "engine: {args: {enforce-eager: true, max-model-len: 1024}}\n"
        "search_space: {knob: [true, 4, 0.5, lpm, 'true', false]}\n"
    )

    spec = load_spec(path)

    assert _exact(spec.search_space["knob"].values) == EXPECTED_TYPED
    assert _exact(spec.engine.args.values()) == [(bool, True), (int, 1024)]


def test_parameter_types_survive_a_json_round_trip():
    data = spec_data(
        engine={"args": {"enforce-eager": True, "max-model-len": 1024, "dtype": "float32"}},
        search_space={"knob": [True, 4, 0.5, "lpm", "true", False]},
    )
    spec = spec_from_data(data)

    again = TuningSpec.model_validate(json.loads(json.dumps(spec.model_dump(mode="json"))))

    assert _exact(again.search_space["knob"].values) == EXPECTED_TYPED
    assert _exact(again.engine.args.values()) == [(bool, True), (int, 1024), (str, "float32")]


def test_true_and_1_are_different_values_in_one_dimension():
    spec = spec_from_data(spec_data(search_space={"knob": [True, 1]}))

    assert _exact(spec.search_space["knob"].values) == [(bool, True), (int, 1)]


def test_a_value_listed_twice_is_rejected():
    with pytest.raises(SpecError) as excinfo:
        spec_from_data(spec_data(search_space={"max-num-seqs": [4, 8, 4]}))

    assert any("search_space.max-num-seqs" in problem for problem in excinfo.value.problems)


# --- paths -------------------------------------------------------------------------------------------


def test_dot_relative_paths_are_taken_from_the_spec_files_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    spec_dir = tmp_path / "project" / "specs"
    data = spec_data(
        model={"path": "./models/tiny", "tokenizer": "../tokenizers/tiny"},
        engine={"venv": "../.venvs/vllm-cpu"},
    )

    spec = load_spec(write_yaml(spec_dir / "spec.yaml", data))

    assert spec.model.path == str((spec_dir / "models" / "tiny").resolve())
    assert spec.model.tokenizer == str((tmp_path / "project" / "tokenizers" / "tiny").resolve())
    assert spec.engine.venv == str((tmp_path / "project" / ".venvs" / "vllm-cpu").resolve())
    assert spec.engine.interpreter == str((tmp_path / "project" / ".venvs" / "vllm-cpu" / "bin" / "python").resolve())


def test_absolute_paths_are_left_alone(tmp_path):
    model = str((tmp_path / "elsewhere" / "tiny-llama").resolve())
    venv = str((tmp_path / "venvs" / "vllm").resolve())
    data = spec_data(model={"path": model}, engine={"venv": venv})

    spec = load_spec(write_yaml(tmp_path / "specs" / "spec.yaml", data))

    assert spec.model.path == model
    assert spec.engine.venv == venv
    assert spec.model.name == "tiny-llama"


def test_hugging_face_model_id_is_not_turned_into_a_local_path(tmp_path):
    data = spec_data(model={"path": "meta-llama/Llama-3.1-8B-Instruct"})

    spec = load_spec(write_yaml(tmp_path / "spec.yaml", data))

    assert spec.model.path == "meta-llama/Llama-3.1-8B-Instruct"


def test_absolute_model_path_through_a_symlink_is_kept_as_written(tmp_path):
    target = tmp_path / "hub" / "snapshots" / "8afb1c2d"
    target.mkdir(parents=True)
    link = tmp_path / "models" / "llama-3"
    link.parent.mkdir()
    link.symlink_to(target)

    spec = load_spec(write_yaml(tmp_path / "spec.yaml", spec_data(model={"path": str(link)})))

    assert spec.model.path == str(link)
    assert spec.model.name == "llama-3"


# --- objective, concurrency, overlaps -------------------------------------------------------------------


def test_objective_shorthand_for_a_latency_minimizes():
    spec = spec_from_data(spec_data(objective="ttft"))

    assert spec.objective.metric.value == "ttft"
    assert spec.objective.maximize is False


def test_objective_shorthand_for_throughput_maximizes():
    spec = spec_from_data(spec_data(objective="output_throughput"))

    assert spec.objective.metric.value == "output_throughput"
    assert spec.objective.maximize is True


def test_concurrency_levels_are_benchmarked_in_ascending_order():
    spec = spec_from_data(spec_data(benchmark={"concurrency": [16, 1, 4]}))

    assert spec.benchmark.concurrency == [1, 4, 16]


def test_repeated_concurrency_level_is_rejected():
    with pytest.raises(SpecError) as excinfo:
        spec_from_data(spec_data(benchmark={"concurrency": [1, 4, 1]}))

    assert any("benchmark.concurrency" in problem for problem in excinfo.value.problems)


def test_parameter_both_fixed_and_searched_is_rejected():
    data = spec_data(
        engine={"args": {"max-num-seqs": 4}},
        search_space={"max-num-seqs": [1, 8]},
    )

    with pytest.raises(SpecError) as excinfo:
        spec_from_data(data)

    assert "max-num-seqs" in str(excinfo.value)
    assert "engine.args" in str(excinfo.value)


def test_the_run_form_schema_accepts_the_list_shorthand_of_a_dimension_as_the_spec_does() -> None:
    """Prefect validates run parameters against this schema: `[2, 4]` must pass there as it does here."""
    import jsonschema

    schema = TuningSpec.model_json_schema()
    spec = {"name": "x", "model": {"path": "/m"}, "search_space": {"max-num-seqs": [2, 4], "b": {"low": 1, "high": 3}}}
    jsonschema.validate(spec, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**spec, "search_space": {"max-num-seqs": 3}}, schema)
