"""Tell the sender, in plain English, what happened to their message and why.

The notice names the rule's explanation and what to do next. It never quotes the
message: no subject, no recipients' addresses, no content, so the notice itself
cannot leak what the rule was protecting.
"""

from __future__ import annotations

import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action

_WHAT = {
    "expired": (
        "Your held email was not sent",
        "Your email was held for review and nobody released it in time, so it has been "
        "deleted without being sent.",
        "If it still needs to go, check the content and recipients and send it again, or "
        "ask your information governance team for help and quote the reference below.",
    ),
    Action.HOLD.value: (
        "Your email has been held",
        "Your email has been held for review and has not been delivered yet.",
        "An information governance officer will review it. If you think it should be "
        "sent as it is, reply to this notice or contact your information governance team "
        "and quote the reference below. If it was sent by mistake, there is nothing more "
        "to do: it will not be delivered unless someone releases it.",
    ),
    Action.REWRITE.value: (
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
    kind: str,
    *,
    sender: str,
    from_address: str,
    reason: str,
    rule: str,
    reference: str,
    recipient_count: int,
    rewrite: str | None = None,
    received_at: float | None = None,
    link: str | None = None,
    self_release: bool = False,
) -> bytes:
    """``kind`` is ``hold``, ``rewrite`` or ``expired``. ``link``: the signed page where
    the sender can cancel, ask for review, or (``self_release``) send it themselves."""
    subject, what, todo = _WHAT[kind]
    lines = ["Hello,", "", what, "", f"Why: {reason or 'it matched the rule ' + rule}"]
    if kind == Action.REWRITE.value and rewrite in _REWRITES:
        lines += ["", _REWRITES[rewrite]]
    if link:
        can = "cancel it, ask for a review"
        can += ", or send it yourself if you have checked it is right" if self_release else ""
        todo = (
            f"open the link below to see why it was held and to {can}. If it was sent by "
            "mistake, cancel it or do nothing: it will not be delivered unless someone "
            f"releases it.\n\n{link}\n\nThe link works until the hold expires; keep it private."
        )
    lines += [
        "",
        f"What to do: {todo}",
        "",
        f"Sent: {format_datetime_local(received_at)}, to {recipient_count} recipient(s)",
        f"Reference: {reference} (rule: {rule})",
        "",
        "This notice was sent automatically by mailguard, the council's outbound email "
        "guard. It does not repeat the content of your email.",
    ]
    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = sender
    msg["Subject"] = subject
    msg["Date"] = format_datetime(_local(None))
    msg["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailguard-Notice"] = kind
    msg.set_content("\n".join(lines) + "\n")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _local(ts: float | None) -> datetime:
    return datetime.fromtimestamp(time.time() if ts is None else ts).astimezone()


def format_datetime_local(ts: float | None) -> str:
    return _local(ts).strftime("%d %B %Y at %H:%M")
