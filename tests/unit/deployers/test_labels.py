"""The run, trial and owner an engine carries, read back from each place a deployer writes them."""

import socket

from deployers import EngineLabels
from tuning.runtime import process_group


def test_a_process_label_names_run_trial_and_owner_and_reads_back() -> None:
    labels = EngineLabels(run_id="0123abcd", trial_number=7)

    assert labels.owner == process_group.owner_id()
    assert labels.process_label() == f"servetune/0123abcd/trial-7/{process_group.owner_id()}"
    assert EngineLabels.from_process_label(labels.process_label()) == labels
    assert EngineLabels.from_process_label(f"{labels.process_label()}/genai-bench") == labels
    assert not labels.orphaned()


def test_a_process_label_of_the_previous_release_reads_as_this_hosts_pid() -> None:
    read = EngineLabels.from_process_label("servetune/run1/trial-2/4242/genai-bench")

    assert read == EngineLabels(run_id="run1", trial_number=2, owner=f"{socket.gethostname()}/4242")


def test_labels_without_an_owner_read_as_unknown() -> None:
    assert EngineLabels.from_process_label("servetune/run1/trial-2/genai-bench") is None
    assert EngineLabels.from_dict({"servetune.run": "run1", "servetune.trial": "2"}) is None
    assert EngineLabels.from_dict({"servetune.run": "run1", "servetune.trial": "x", "servetune.owner": "h/1"}) is None


def test_an_owner_on_another_machine_is_never_an_orphan() -> None:
    assert not EngineLabels(run_id="r", trial_number=0, owner="another-machine.example/1").orphaned()
