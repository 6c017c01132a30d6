"""docs/reliability.md's fault table names the tests that show each behaviour: each named test must exist, so the
page cannot drift from the suite."""

from __future__ import annotations

import ast
import re

from tests.support.paths import REPO

DOC = REPO / "docs" / "reliability.md"
# Rows whose test is still being written say so; every other row names `tests/path.py::test_name`.
_PLACEHOLDER = re.compile(r"^(\(docker\) )?TODO$")
_TEST = re.compile(r"^`(tests/[\w/]+\.py)::(test_\w+)`$")


def _rows() -> list[tuple[str, str]]:
    """(fault, test cell) of each row of the table headed ``| fault | what servetune does | test |``."""
    lines = DOC.read_text().splitlines()
    start = lines.index("| fault | what servetune does | test |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append((cells[0], cells[-1]))
    return rows


def _test_functions(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_the_fault_table_names_is_defined_in_its_file() -> None:
    named = [(fault, cell) for fault, cell in _rows() if not _PLACEHOLDER.match(cell)]
    malformed = [(fault, cell) for fault, cell in named if not _TEST.match(cell)]
    assert not malformed, f"a test cell is `tests/path.py::test_name` or a TODO placeholder: {malformed}"
    missing = []
    for fault, cell in named:
        match = _TEST.match(cell)
        assert match is not None
        path, name = match.groups()
        if not (REPO / path).is_file() or name not in _test_functions(path):
            missing.append(f"{fault}: {path}::{name}")
    assert not missing, "docs/reliability.md names tests that do not exist:\n" + "\n".join(missing)


def test_the_fault_table_covers_at_least_ten_faults_with_tests() -> None:
    faults_with_tests = {fault for fault, cell in _rows() if _TEST.match(cell)}
    assert len(faults_with_tests) >= 10, sorted(faults_with_tests)
