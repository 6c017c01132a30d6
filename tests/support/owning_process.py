"""A real process that owns a tuning run as `servetune tune` does (its run and one running trial), until the test
lets it go or kills it as a user's `kill -9` would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tuning.runtime import process_group

_OWN_A_RUN = textwrap.dedent(
    """
    import sys
    from tuning.spec import TuningSpec
    from tuning.store import Store

    url, name = sys.argv[1:]
    store = Store(url)
    space = {"max-num-seqs": [2, 4]}
    spec = TuningSpec.model_validate({"name": name, "model": {"path": "org/model"}, "search_space": space})
    run = store.start_run(spec)
    store.start_trial(run.id, 0, {"max-num-seqs": 2})
    print(run.id, flush=True)
    sys.stdin.readline()
    """
)


@dataclass
class OwningProcess:
    process: subprocess.Popen[str]
    run_id: str

    @property
    def owner(self) -> str:
        """``host/pid``, as the run and trial rows name it."""
        return f"{process_group.owner_id().rpartition('/')[0]}/{self.process.pid}"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


@contextmanager
def run_owned_elsewhere(database_url: str, name: str) -> Iterator[OwningProcess]:
    """A run named ``name`` with trial 0 running, both owned by another live process of this host."""
    argv = [sys.executable, "-c", _OWN_A_RUN, database_url, name]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        assert run_id, "the owning process started its run"
        yield OwningProcess(process, run_id)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
