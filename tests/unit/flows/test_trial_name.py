"""A trial's flow run is named with its parameters, short enough to read in the Prefect UI's lists."""

from __future__ import annotations

from flows.trial import flag_abbreviation, trial_run_name


def test_flags_are_abbreviated_readably() -> None:
    assert [
        flag_abbreviation(f)
        for f in ("max-num-seqs", "max-num-batched-tokens", "gpu-memory-utilization", "dtype", "max_model_len")
    ] == ["seqs", "mbt", "gmu", "dtype", "mml"]


def test_the_name_has_the_number_the_short_parameters_and_what_a_confirmation_confirms() -> None:
    params = {"max-num-seqs": 8, "max-num-batched-tokens": 1024}
    assert trial_run_name(3, params) == "trial-3 seqs=8 mbt=1024"
    assert trial_run_name(5, params, confirms=3) == "trial-5 seqs=8 mbt=1024 (confirms 3)"
    # No searched flag: the run's measurement of the engine's defaults (measure_defaults).
    assert trial_run_name(0, {}) == "trial-0 defaults"
    assert trial_run_name(6, {}, confirms=0) == "trial-6 defaults (confirms 0)"


def test_flags_sharing_an_abbreviation_keep_their_names_and_a_long_name_is_cut() -> None:
    assert trial_run_name(1, {"block-size": 16, "batch-size": 4}) == "trial-1 block-size=16 batch-size=4"
    many = {f"flag-number-{i}": 1000 + i for i in range(12)}
    name = trial_run_name(2, many, confirms=1)
    assert len(name) <= 60 and name.endswith("… (confirms 1)") and name.startswith("trial-2 fn0=1000")
