"""Benchmarking a deployed engine with genai-bench, and reading its results into typed rounds."""

from benchmarks.genai_bench import BenchmarkError, Settles, genai_bench_command, run_genai_bench
from benchmarks.results import ResultParseError, parse_results

__all__ = [
    "BenchmarkError",
    "ResultParseError",
    "Settles",
    "genai_bench_command",
    "parse_results",
    "run_genai_bench",
]
