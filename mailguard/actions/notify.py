"""Tell the sender, in plain English, what happened to their message and why.

The notice names the rule's explanation and what to do next. It never quotes the
message: no subject, no recipients' addresses, no content, so the notice itself
cannot leak what the rule was protecting.
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Decision

_WHAT = {
    Action.HOLD: (
        "Your email has been held",
        "Your email has been held for review and has not been delivered yet.",
        "An information governance officer will review it. If you think it should be "
        "sent as it is, reply to this notice or contact your information governance team "
        "and quote the reference below. If it was sent by mistake, there is nothing more "
        "to do: it will not be delivered unless someone releases it.",
    ),
    Action.REWRITE: (
        "Your email was changed before delivery",
        "Your email was delivered, but mailguard changed it first.",
        "Please check the recipients and attachments next time before sending.",
    ),
}

_REWRITES = {
    "bcc": "The external recipients were moved to Bcc, so they cannot see each other's "
    "addresses. Everyone still received it.",
    "split": "Each external recipient received a separate copy that shows only their own address.",
}


def should_notify(sender: str, message: ParsedMessage) -> bool:
    """Never notify the null sender or answer automated mail (RFC 3834), so no loops."""
    if not sender:
        return False
    auto = str(message.headers.get("Auto-Submitted", "no")).strip().lower()
    return auto in ("", "no")


def build_notice(
    *,
    sender: str,
    from_address: str,
    decision: Decision,
    reference: str,
    recipient_count: int,
    received_at: float | None = None,
) -> bytes:
    subject, what, todo = _WHAT[decision.action]
    when = format_datetime_local(received_at)
    lines = [
        "Hello,",
        "",
        f"{what}",
        "",
        f"Why: {decision.reason or 'it matched the rule ' + decision.rule}",
    ]
    if decision.action is Action.REWRITE and decision.rewrite in _REWRITES:
        lines += ["", _REWRITES[decision.rewrite]]
    lines += [
        "",
        f"What to do: {todo}",
        "",
        f"Sent: {when}, to {recipient_count} recipient(s)",
        f"Reference: {reference} (rule: {decision.rule})",
        "",
        "This notice was sent automatically by mailguard, the council's outbound email "
        "guard. It does not repeat the content of your email.",
    ]
    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = sender
    msg["Subject"] = subject
    msg["Date"] = format_datetime(_local(received_at))
    msg["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailguard-Notice"] = decision.action.value
    msg.set_content("\n".join(lines) + "\n")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _local(ts: float | None):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromtimestamp(time.time() if ts is None else ts).astimezone()


def format_datetime_local(ts: float | None) -> str:
    return _local(ts).strftime("%d %B %Y at %H:%M")
