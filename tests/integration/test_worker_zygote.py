"""Workers forked from the relay's zygote, when a fork fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_a_worker_the_zygote_cannot_fork_starts_as_a_new_process_and_the_zygote_stays():
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.zygote_probe"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"zygote_alive": True, "workers": ["Process"], "judged": True}
    assert '"event": "worker_fork_failed"' in done.stderr
