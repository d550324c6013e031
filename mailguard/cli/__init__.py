"""The ``mailguard`` command: one module per command group, thin on purpose."""

from __future__ import annotations

import click

from mailguard import __version__
from mailguard import log as mglog
from mailguard.cli.check import check
from mailguard.cli.evaluate import evaluate
from mailguard.cli.history import history
from mailguard.cli.incident import incident
from mailguard.cli.policy import policy
from mailguard.cli.postfix import postfix
from mailguard.cli.quarantine import quarantine
from mailguard.cli.records import records
from mailguard.cli.replay import replay
from mailguard.cli.report import report
from mailguard.cli.serve import serve
from mailguard.cli.users import users
from mailguard.cli.web import web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mailguard")
def main() -> None:
    """mailguard: an outbound email data-leak guard (SMTP relay)."""
    # A command's output is its own; a library's complaint about a damaged file only
    # as a JSON line, and only when it is an error (serve and web log at their level).
    mglog.configure("error")


for command in (
    serve,
    check,
    replay,
    report,
    incident,
    evaluate,
    policy,
    quarantine,
    history,
    records,
    users,
    web,
    postfix,
):
    main.add_command(command)
