"""What the README and the shipped files tell an admin to use must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOCUMENTS = [ROOT / "README.md", *ROOT.glob("policies/*"), *ROOT.glob("deploy/**/*")]
INSTALLED = re.compile(r"/opt/mailguard/([A-Za-z0-9_./-]+[A-Za-z0-9_])")


def test_every_installed_path_named_in_the_documents_is_in_the_repository():
    """The install clones this repository to /opt/mailguard (README "Installing")."""
    named = {
        (doc.name, path)
        for doc in DOCUMENTS
        if doc.is_file()
        for path in INSTALLED.findall(doc.read_text())
        if not path.startswith("venv")
    }
    assert named, "the README's install steps name files under /opt/mailguard"
    missing = sorted((doc, path) for doc, path in named if not (ROOT / path).exists())
    assert not missing


def test_no_document_points_at_a_directory_nothing_installs():
    for doc in DOCUMENTS:
        if doc.is_file():
            assert "/usr/share/mailguard" not in doc.read_text(), doc
