"""Opening an incident from the id a person has, the ICO pack, and deletion requests.

The message is found in the decision ledger by its Message-ID (from the sender's Sent
Items), the relay's queue id (from Postfix's log) or, for held mail, its quarantine
id. Deletion requests go to the recipients outside the council, each with a signed,
expiring link; following it and pressing the button records the confirmation.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from mailguard import log as mglog
from mailguard.delivery.upstream import UpstreamError, UpstreamPool, deliver
from mailguard.incidents import pack
from mailguard.incidents.store import DeletionRequest, Incident, IncidentStore, new_id
from mailguard.ledger.store import Entry, Ledger, finding_of
from mailguard.policy.schema import Policy
from mailguard.quarantine.sql import SQLStore

log = mglog.get_logger()

LINK_DAYS = 30
OPEN_FIELDS = ("cause", "staff training", "likely consequences for the people affected")


class IncidentError(Exception):
    """One clear line: the message cannot be found, the link is not valid..."""


class Incidents:
    def __init__(
        self,
        store: IncidentStore,
        ledger: Ledger | None,
        quarantine: SQLStore | None,
        secret: bytes,
        base_url: str,
        policy: Callable[[], Policy],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.quarantine = quarantine
        self._signer = URLSafeTimedSerializer(secret, salt="mailguard-deletion-confirmed")
        self.base_url = base_url.rstrip("/")
        self._policy = policy

    # --- opening ---------------------------------------------------------------------
    def open(
        self,
        *,
        held: str | None = None,
        message_id: str | None = None,
        queue_id: str | None = None,
        discovered: float | None = None,
        by: str,
    ) -> Incident:
        entry = self._decision(held=held, message_id=message_id, queue_id=queue_id)
        now = time.time()
        domains = self._policy().organisation.domains
        outside = tuple(r for r in entry.recipients if not domains.is_internal(r))
        incident = Incident(
            new_id(now),
            now,
            by,
            entry.at,
            discovered if discovered is not None else now,
            entry.queue_id,
            entry.message_id,
            entry.sender,
            entry.recipients,
            outside,
            entry.action,
            entry.rule or _first(entry.rules),
            entry.findings,
        )
        self.store.add(incident, by)
        return incident

    def _decision(self, *, held: str | None, message_id: str | None, queue_id: str | None) -> Entry:
        found: list[Entry] = []
        if self.ledger is not None:
            if message_id:
                found = self.ledger.find(message_id=message_id)
            elif queue_id or held:
                found = self.ledger.find(queue_id=queue_id or held)
        if found:
            return found[-1]
        if held and self.quarantine is not None:
            message = self.quarantine.get(held)
            if message is not None:
                return Entry(
                    message.created_at,
                    message.id,
                    "",
                    message.mail_from,
                    message.rcpt_tos,
                    message.state.value if message.state.value == "released" else "hold",
                    None,
                    message.rules,
                    message.rule,
                    tuple(finding_of(f) for f in message.findings),
                    message.size,
                    message.policy_version,
                )
        which = message_id or queue_id or held
        raise IncidentError(
            f"no decision about {which} in the ledger (kept {self._retention()} days)"
        )

    def _retention(self) -> int:
        return self.ledger.retention_days if self.ledger is not None else 0

    # --- the pack --------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident:
        incident = self.store.get(incident_id)
        if incident is None:
            raise IncidentError(f"no incident {incident_id} (see: mailguard incident list)")
        return incident

    def pack(self, incident_id: str, now: float | None = None) -> dict[str, object]:
        """What the ICO's report asks, filled in as far as the findings allow."""
        i = self.get(incident_id)
        now = now if now is not None else time.time()
        due = i.discovered_at + pack.REPORT_WITHIN_HOURS * 3600
        requests = self.store.requests(i.id)
        return {
            "id": i.id,
            "opened_at": _iso(i.opened_at),
            "opened_by": i.opened_by,
            "happened_at": _iso(i.happened_at),
            "discovered_at": _iso(i.discovered_at),
            "report_due_at": _iso(due),
            "hours_left": round((due - now) / 3600, 1),
            "message": {
                "queue_id": i.queue_id,
                "message_id": i.message_id,
                "sender": i.sender,
                "action": i.action,
                "rule": i.rule,
            },
            "recipients": list(i.recipients),
            "recipient_domains": sorted({r.rpartition("@")[2].lower() for r in i.recipients}),
            "unintended_recipients": list(i.outside),
            "data_categories": pack.categories(i.findings),
            "records": pack.records(i.findings),
            "people": pack.people(i.findings),
            "findings": [
                {
                    "type": f.type,
                    "count": f.count,
                    "severity": f.severity,
                    "where": f.where,
                    "detail": f.detail,
                    **({"table": f.table} if f.table else {}),
                }
                for f in i.findings
            ],
            "description": pack.description(i.action, i.rule, i.recipients, i.outside, i.findings),
            "containment": self._containment(i, requests),
            "deletion_requests": [
                {
                    "recipient": r.recipient,
                    "sent_at": _iso(r.sent_at),
                    "confirmed_at": _iso(r.confirmed_at),
                    "confirmed_from": r.confirmed_from,
                }
                for r in requests
            ],
            "to_fill_in": list(OPEN_FIELDS),
            "log": [{"at": _iso(x.at), "who": x.who, "what": x.what} for x in self.store.log(i.id)],
        }

    def _containment(self, i: Incident, requests: list[DeletionRequest]) -> list[str]:
        steps = []
        if i.action in ("hold", "reject"):
            steps.append(f"mailguard {'held' if i.action == 'hold' else 'refused'} the message")
        for r in requests:
            if r.sent_at:
                steps.append(f"deletion requested from {r.recipient} at {_iso(r.sent_at)}")
            if r.confirmed_at:
                when = _iso(r.confirmed_at)
                steps.append(f"{r.recipient} confirmed deletion at {when} ({r.confirmed_from})")
        return steps

    # --- deletion requests -------------------------------------------------------------
    def link(self, incident_id: str, recipient: str) -> str:
        token = self._signer.dumps({"i": incident_id, "r": recipient.lower()})
        return f"{self.base_url}/d/{token}"

    def read_link(self, token: str) -> tuple[Incident, str]:
        try:
            data = self._signer.loads(token, max_age=LINK_DAYS * 86400)
        except (SignatureExpired, BadSignature):
            raise IncidentError("This link is not valid or has expired.") from None
        if not isinstance(data, dict) or not {"i", "r"} <= set(data):
            raise IncidentError("This link is not valid or has expired.")
        return self.get(str(data["i"])), str(data["r"])

    def request_message(self, incident: Incident, recipient: str, from_address: str) -> bytes:
        msg = EmailMessage()
        msg["From"] = from_address
        msg["To"] = recipient
        msg["Subject"] = "Please delete an email sent to you in error"
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
        msg["Auto-Submitted"] = "auto-generated"
        when = dt.datetime.fromtimestamp(incident.happened_at, dt.UTC).strftime("%d %B %Y %H:%M")
        msg.set_content(
            f"On {when} (UTC) an email from {incident.sender} was sent to you in error.\n\n"
            "It holds personal information about other people. Please delete it, and any\n"
            "copy or attachment you saved, without reading it further or passing it on.\n\n"
            "When you have, please confirm it here (the link works for "
            f"{LINK_DAYS} days):\n\n{self.link(incident.id, recipient)}\n\n"
            f"Our reference: {incident.id}. Thank you.\n",
            cte="7bit",  # the link on one line, as mail clients make it clickable
        )
        return msg.as_bytes()

    async def request_deletion(
        self, incident_id: str, upstream: UpstreamPool, by: str
    ) -> list[str]:
        """Ask every recipient outside the council, through the upstream as hold notices
        go (null sender: a bounce causes nothing); the ones the upstream accepted."""
        incident = self.get(incident_id)
        if not self.base_url:
            raise IncidentError("web_url is not set: the request could carry no link to confirm")
        policy = self._policy()
        internal = policy.organisation.internal_domains
        sender = (
            policy.notify.from_address or f"postmaster@{internal[0] if internal else 'localhost'}"
        )
        sent = []
        for recipient in incident.outside:
            message = self.request_message(incident, recipient, sender)
            try:
                result = await deliver(upstream, "", (recipient,), message,
                                       smtputf8=not recipient.isascii())  # fmt: skip
            except (UpstreamError, OSError) as exc:
                log.warning("deletion_request_not_sent", incident=incident.id, error=str(exc))
                continue
            if result.delivered:
                self.store.requested(incident.id, recipient, by)
                sent.append(recipient)
        return sent

    def confirm(self, token: str, source: str) -> tuple[Incident, str]:
        incident, recipient = self.read_link(token)
        self.store.confirmed(incident.id, recipient, source, f"{recipient} (link)")
        return incident, recipient

    def confirm_by_phone(self, incident_id: str, recipient: str, by: str, note: str) -> bool:
        return self.store.confirmed(incident_id, recipient, f"phone: {note}", by)


def _first(rules: tuple[str, ...]) -> str:
    return rules[0] if rules else ""


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")
