"""The user's own prompts: which files are read and how, what a bad file is told, and what genai-bench is handed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.genai_bench import PROMPTS_FILE, genai_bench_command, write_prompts
from tests.unit.spec.conftest import Refusal
from tuning.spec import BenchmarkSpec, DatasetError, DatasetSpec, ModelSpec, looks_local, read_prompts
from tuning.spec.loading import SpecError, spec_from_data

PROMPTS = ["What is the capital of France?", "Write a haiku about GPUs.", "Explain KV caching, briefly."]
BASE: dict[str, Any] = {
    "name": "unit",
    "model": {"path": "/models/tiny-llama"},
    "search_space": {"max-num-seqs": [1, 8]},
}


def write(path: Path, text: str) -> DatasetSpec:
    path.write_text(text, encoding="utf-8")
    return DatasetSpec(path=str(path))


def jsonl(items: list[Any]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def refusal(dataset: DatasetSpec) -> str:
    with pytest.raises(DatasetError) as excinfo:
        read_prompts(dataset)
    return str(excinfo.value)


# --- the spec ----------------------------------------------------------------------------------------------------


def test_a_string_is_the_path_of_the_dataset() -> None:
    spec = spec_from_data(BASE | {"benchmark": {"dataset": "/data/prompts.jsonl"}})

    assert spec.benchmark.dataset == DatasetSpec(path="/data/prompts.jsonl")
    assert spec.benchmark.dataset.prompt_column is None
    assert spec.benchmark.dataset.config is None


def test_a_config_file_carries_its_own_prompt_column() -> None:
    data = copy.deepcopy(BASE) | {"benchmark": {"dataset": {"config": "/data/dataset.json", "prompt_column": "q"}}}

    with pytest.raises(SpecError) as excinfo:
        spec_from_data(data)

    message = "\n".join(excinfo.value.problems)
    assert "benchmark.dataset" in message
    assert "prompt_column goes inside the dataset config file" in message


@pytest.mark.parametrize(
    "path",
    ["/data/prompts", "./prompts", "../prompts", "~/prompts", "prompts.jsonl", "chats.CSV", "p.json", "p.txt"],
)
def test_a_path_or_a_prompt_file_suffix_is_a_local_file(path: str) -> None:
    assert looks_local(path)


@pytest.mark.parametrize("hub_id", ["squad", "openai/gsm8k", "tatsu-lab/alpaca"])
def test_a_hugging_face_id_is_not_a_local_file(hub_id: str) -> None:
    assert not looks_local(hub_id)
    assert DatasetSpec(path=hub_id).local_file is None


# --- reading each format ---------------------------------------------------------------------------------------


def test_jsonl_objects_are_read_in_file_order(tmp_path: Path) -> None:
    dataset = write(tmp_path / "p.jsonl", jsonl([{"id": i, "prompt": p} for i, p in enumerate(PROMPTS)]))

    assert read_prompts(dataset) == PROMPTS


def test_jsonl_of_plain_strings_is_read_in_file_order(tmp_path: Path) -> None:
    assert read_prompts(write(tmp_path / "p.jsonl", jsonl(PROMPTS))) == PROMPTS


def test_jsonl_takes_the_prompt_from_the_named_key(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(jsonl([{"prompt": "not this", "question": p} for p in PROMPTS]))

    assert read_prompts(DatasetSpec(path=str(path), prompt_column="question")) == PROMPTS


def test_a_json_list_of_objects_or_strings_is_read_in_order(tmp_path: Path) -> None:
    items: list[Any] = [{"prompt": PROMPTS[0]}, PROMPTS[1], {"prompt": PROMPTS[2], "lang": "en"}]

    assert read_prompts(write(tmp_path / "p.json", json.dumps(items))) == PROMPTS


def test_csv_takes_the_prompt_column_in_row_order(tmp_path: Path) -> None:
    rows = "".join(f'{i},"{p}",x\n' for i, p in enumerate(PROMPTS))

    assert read_prompts(write(tmp_path / "p.csv", "id,prompt,other\n" + rows)) == PROMPTS


def test_csv_takes_the_named_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("question,answer\n" + "".join(f'"{p}",42\n' for p in PROMPTS))

    assert read_prompts(DatasetSpec(path=str(path), prompt_column="question")) == PROMPTS


def test_a_text_file_is_one_prompt_per_line(tmp_path: Path) -> None:
    assert read_prompts(write(tmp_path / "p.txt", "\n".join(PROMPTS) + "\n")) == PROMPTS


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("p.jsonl", jsonl([{"prompt": PROMPTS[0]}, {"prompt": "  "}, "", {"prompt": PROMPTS[1]}]) + "\n\n"),
        ("p.json", json.dumps([PROMPTS[0], "", {"prompt": " "}, PROMPTS[1]])),
        ("p.csv", f'prompt\n"{PROMPTS[0]}"\n""\n" "\n"{PROMPTS[1]}"\n'),
        ("p.txt", f"{PROMPTS[0]}\n\n   \n{PROMPTS[1]}\n"),
    ],
)
def test_blank_prompts_are_dropped(tmp_path: Path, name: str, text: str) -> None:
    assert read_prompts(write(tmp_path / name, text)) == PROMPTS[:2]


# --- what a bad file is told -----------------------------------------------------------------------------------


def test_a_jsonl_line_that_is_not_json_is_named_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    text = jsonl([{"prompt": PROMPTS[0]}]) + "\n" + '{"prompt": "unterminated\n' + jsonl([{"prompt": PROMPTS[1]}])

    message = refusal(write(path, text))

    assert message.startswith(f"{path} line 3: not JSON")


def test_a_missing_key_names_the_key_and_suggests_prompt_column(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"

    message = refusal(write(path, jsonl([{"prompt": PROMPTS[0]}, {"question": PROMPTS[1]}])))

    assert f"{path} line 2" in message
    assert "no string under 'prompt'" in message
    assert "question" in message  # what the line has instead
    assert "set benchmark.dataset.prompt_column" in message


def test_a_json_item_without_the_key_is_named_by_its_index(tmp_path: Path) -> None:
    path = tmp_path / "p.json"

    message = refusal(write(path, json.dumps([PROMPTS[0], PROMPTS[1], {"text": PROMPTS[2]}])))

    assert f"{path} item 3" in message  # counted from 1, as JSONL lines are
    assert "no string under 'prompt'" in message


def test_a_json_file_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"

    message = refusal(write(path, json.dumps({"prompts": PROMPTS})))

    assert message == f"{path}: expected a JSON list of prompts, found dict"


def test_a_csv_without_the_column_lists_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"

    message = refusal(write(path, "id,question\n1,hello\n"))

    assert str(path) in message
    assert "no column 'prompt'" in message
    assert "['id', 'question']" in message
    assert "prompt_column" in message


@pytest.mark.parametrize(
    ("name", "text"),
    [("p.jsonl", ""), ("p.jsonl", "\n\n"), ("p.json", "[]"), ("p.csv", "prompt\n"), ("p.txt", "\n  \n")],
)
def test_a_file_without_prompts_says_it_holds_none(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name

    assert refusal(write(path, text)) == f"{path}: holds no prompt"


def test_a_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"caf\xe9\n")

    assert refusal(DatasetSpec(path=str(path))).startswith(f"{path}: cannot be read as UTF-8 text")


def test_a_csv_row_without_a_prompt_cell_is_dropped_like_a_blank_prompt(tmp_path: Path) -> None:
    # The row "1" ends before its prompt cell; `servetune validate` must not end in a traceback over it.
    dataset = write(tmp_path / "p.csv", f"id,prompt\n1\n2,{PROMPTS[0]}\n")

    assert read_prompts(dataset) == [PROMPTS[0]]


def test_a_csv_prompt_keeps_its_line_breaks(tmp_path: Path) -> None:
    dataset = write(tmp_path / "p.csv", 'prompt\n"Dear model,\nplease summarise:"\nsecond\n')

    assert read_prompts(dataset) == ["Dear model,\nplease summarise:", "second"]


def test_a_jsonl_prompt_holding_a_unicode_line_separator_is_one_line(tmp_path: Path) -> None:
    # json.dumps(ensure_ascii=False) writes U+2028 as it is: valid JSON on one line of a JSONL file.
    dataset = write(tmp_path / "p.jsonl", json.dumps({"prompt": "one\u2028two"}, ensure_ascii=False) + "\n")

    assert read_prompts(dataset) == ["one\u2028two"]


# --- the problems validate reports -----------------------------------------------------------------------------


def test_a_bad_dataset_file_is_a_problem_of_benchmark_dataset_path(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("question\nhello\n")

    [problem] = BenchmarkSpec(dataset=str(path)).missing_files()

    assert problem.startswith(f"benchmark.dataset.path: {path}: no column 'prompt'")


def test_a_readable_dataset_file_has_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(jsonl(PROMPTS))

    assert DatasetSpec(path=str(path)).missing_files() == []


def test_validate_refuses_a_jsonl_with_a_bad_line_naming_the_field_and_the_line(
    tmp_path: Path, refusal: Refusal
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(jsonl([{"prompt": PROMPTS[0]}]) + "{'prompt': 'single quotes'}\n")

    err = refusal(yaml.safe_dump(BASE | {"benchmark": {"dataset": "./prompts.jsonl"}}))

    assert f"benchmark.dataset.path: {prompts} line 2: not JSON" in err


# --- what genai-bench is handed --------------------------------------------------------------------------------


def genai_bench_argv(spec: BenchmarkSpec, out_dir: Path) -> list[str]:
    return genai_bench_command("http://127.0.0.1:8000", ModelSpec(path="/models/tiny-llama"), "vllm", spec, out_dir)


def values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, item in enumerate(argv) if item == flag]


def test_a_local_file_reaches_genai_bench_as_a_json_list_of_its_prompts(tmp_path: Path) -> None:
    source = tmp_path / "chats.csv"
    source.write_text("id,question\n" + "".join(f'{i},"{p}"\n' for i, p in enumerate(PROMPTS)))
    spec = BenchmarkSpec(dataset={"path": str(source), "prompt_column": "question"})
    out_dir = tmp_path / "trial-0" / "genai-bench"

    write_prompts(spec, out_dir.parent)
    argv = genai_bench_argv(spec, out_dir)

    [handed] = values(argv, "--dataset-path")
    assert handed == str(out_dir.parent / PROMPTS_FILE) == str(tmp_path / "trial-0" / "prompts.json")
    assert json.loads(Path(handed).read_text()) == PROMPTS
    # The list has no columns: a column name would make genai-bench look for one.
    assert "--dataset-prompt-column" not in argv
    assert "--dataset-config" not in argv


def test_a_hub_dataset_is_named_to_genai_bench_and_no_prompts_file_is_written(tmp_path: Path) -> None:
    spec = BenchmarkSpec(dataset={"path": "squad", "prompt_column": "question"})
    folder = tmp_path / "trial-0"

    write_prompts(spec, folder)
    argv = genai_bench_argv(spec, folder / "genai-bench")

    assert not (folder / PROMPTS_FILE).exists()
    assert values(argv, "--dataset-path") == ["squad"]
    assert values(argv, "--dataset-prompt-column") == ["question"]


def test_no_dataset_writes_no_prompts_file(tmp_path: Path) -> None:
    write_prompts(BenchmarkSpec(), tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_bare_relative_dataset_file_is_read_from_the_spec_files_folder(tmp_path: Path) -> None:
    """`dataset: data/prompts.jsonl` means the file beside the spec, wherever servetune runs from."""
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "prompts.jsonl", "\n".join(json.dumps({"prompt": p}) for p in PROMPTS))

    spec = spec_from_data(
        {"name": "bare", "model": {"path": "/m"}, "benchmark": {"dataset": "data/prompts.jsonl"}}, base_dir=tmp_path
    )

    assert spec.benchmark.dataset is not None and spec.benchmark.dataset.path == str(
        tmp_path / "data" / "prompts.jsonl"
    )
    assert spec.benchmark.missing_files() == []


def test_the_prompts_are_read_once_per_trial_folder_for_all_its_genai_bench_runs(tmp_path: Path) -> None:
    dataset = tmp_path / "p.jsonl"
    dataset.write_text(jsonl(PROMPTS))
    spec = BenchmarkSpec(dataset=str(dataset))
    folder = tmp_path / "trial-0"

    write_prompts(spec, folder)
    dataset.unlink()  # a later bisection step of the same trial does not read the dataset again
    write_prompts(spec, folder)

    assert json.loads((folder / PROMPTS_FILE).read_text()) == PROMPTS
