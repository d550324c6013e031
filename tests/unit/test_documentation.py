"""What the README and the shipped files tell an admin to use must exist."""

from __future__ import annotations

import re
from pathlib import Path

from mailguard.config import Settings, load_settings

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


def test_the_container_settings_meet_the_postfix_snippets_ports():
    """Postfix hands mail to content_filter's port and takes it back on the re-injection
    listener; the container's settings must name both as the snippets do."""
    settings = load_settings(ROOT / "deploy" / "container" / "mailguard.yaml", {})
    main_cf = (ROOT / "deploy" / "postfix" / "main.cf.snippet").read_text()
    master_cf = (ROOT / "deploy" / "postfix" / "master.cf.snippet").read_text()

    handed_to = re.search(r"^content_filter = \w+:\[([\d.]+)\]:(\d+)", main_cf, re.M)
    reinjection = re.search(r"^([\d.]+):(\d+)\s+inet\s", master_cf, re.M)
    assert settings.listen == (handed_to[1], int(handed_to[2]))
    assert settings.upstream == (reinjection[1], int(reinjection[2]))


def test_the_example_config_lists_every_setting_and_loads():
    example = ROOT / "deploy" / "mailguard.example.yaml"
    listed = set(re.findall(r"^#? ?([a-z_]+):", example.read_text(), re.M))
    assert set(Settings.model_fields) - listed == set()
    assert listed - set(Settings.model_fields) == set()
    assert load_settings(example, {}).policy == Path("/etc/mailguard/policy.yaml")
