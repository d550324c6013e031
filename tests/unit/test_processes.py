"""mailguard's child processes import the code their parent runs."""

from __future__ import annotations

import json
import subprocess
import sys

SHOW = (
    "import json; from mailguard.processes import python_module;"
    " print(json.dumps(python_module('m')))"
)


def command_of_a_child(*flags: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, *flags, "-c", SHOW], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_parent_run_with_safe_path_starts_its_children_with_it():
    assert command_of_a_child("-P") == [sys.executable, "-P", "-m", "m"]


def test_a_parent_run_plainly_starts_its_children_plainly():
    assert command_of_a_child() == [sys.executable, "-m", "m"]
