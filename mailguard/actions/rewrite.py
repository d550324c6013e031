"""Header surgery on raw message bytes: tag, move recipients to Bcc, one copy each.

Only the header block is touched; the body bytes (and every header we do not
change) go out exactly as received. Rewriting happens before the upstream MTA
signs the message with DKIM, so signatures stay valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, getaddresses

from mailguard.policy.facts import in_domains

_FIELD_START = re.compile(rb"^[!-9;-~]+:")  # a header name then a colon (RFC 5322 3.6.8)


@dataclass(frozen=True, slots=True)
class Copy:
    """One message to send: its recipients and bytes."""

    rcpt_tos: tuple[str, ...]
    raw: bytes


def split_head(raw: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (each with its folded lines and CRLF) and the rest of the message."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        head, rest = raw, b""
    else:
        head, rest = raw[: end + 2], raw[end + 2 :]
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields, rest


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower() if _FIELD_START.match(field) else b""


def _field(name: str, value: str) -> bytes:
    return f"{name}: {value}\r\n".encode()


def tag(raw: bytes, verdict: str, rules: Sequence[str], subject_prefix: str | None) -> bytes:
    """Add X-Mailguard-* headers (replacing any a sender forged) and prefix the subject."""
    fields, rest = split_head(raw)
    fields = [f for f in fields if not _name(f).startswith(b"x-mailguard-")]
    if subject_prefix:
        fields = [_prefixed(f, subject_prefix) if _name(f) == b"subject" else f for f in fields]
    added = [_field("X-Mailguard-Verdict", verdict)]
    if rules:
        added.append(_field("X-Mailguard-Rules", ", ".join(rules)))
    return b"".join([*added, *fields]) + rest


def _prefixed(field: bytes, prefix: str) -> bytes:
    name, _, value = field.partition(b":")
    if value.strip().startswith(prefix.encode()):
        return field
    encoded = prefix.encode() if prefix.isascii() else Header(prefix, "utf-8").encode().encode()
    return name + b": " + encoded + b" " + value.lstrip(b" \t")


def _addresses(fields: Iterable[bytes], name: bytes) -> list[tuple[str, str]]:
    values = [
        f.split(b":", 1)[1].decode("utf-8", "replace").replace("\r\n", "")
        for f in fields
        if _name(f) == name
    ]
    return [(n, a) for n, a in getaddresses(values) if a]


def _address_field(name: str, addresses: Sequence[tuple[str, str]]) -> bytes:
    folded = ",\r\n ".join(formataddr(pair, charset="utf-8") for pair in addresses)
    return f"{name}: {folded}\r\n".encode()


def _with_recipients(fields: list[bytes], rest: bytes, to: bytes, cc: bytes | None) -> bytes:
    out: list[bytes] = []
    placed = False
    for f in fields:
        if _name(f) in (b"to", b"cc"):
            if not placed:
                out.append(to)
                if cc:
                    out.append(cc)
                placed = True
            continue
        out.append(f)
    if not placed:
        out.insert(0, to)
    return b"".join(out) + rest


def to_bcc(
    raw: bytes,
    *,
    internal_domains: Sequence[str],
    sender: str,
    to_shows: str = "undisclosed",
    keep_internal_visible: bool = True,
) -> bytes:
    """Visible external recipients leave To/Cc; the envelope (who receives it) is unchanged."""
    fields, rest = split_head(raw)

    def keep(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if not keep_internal_visible:
            return []
        return [p for p in pairs if in_domains(_domain(p[1]), internal_domains)]

    to = keep(_addresses(fields, b"to"))
    cc = keep(_addresses(fields, b"cc"))
    if to:
        to_field = _address_field("To", to)
    elif to_shows == "sender" and sender:
        to_field = _address_field("To", [("", sender)])
    else:
        to_field = b"To: undisclosed-recipients:;\r\n"
    return _with_recipients(fields, rest, to_field, _address_field("Cc", cc) if cc else None)


def split(
    raw: bytes,
    rcpt_tos: Sequence[str],
    *,
    internal_domains: Sequence[str],
    sender: str,
    to_shows: str = "undisclosed",
) -> list[Copy]:
    """One copy per external recipient showing only them; internal recipients share one."""
    fields, rest = split_head(raw)
    visible = {a.lower(): (n, a) for n, a in _addresses(fields, b"to") + _addresses(fields, b"cc")}
    internal = [r for r in rcpt_tos if in_domains(_domain(r), internal_domains)]
    copies: list[Copy] = []
    if internal:
        shared = to_bcc(raw, internal_domains=internal_domains, sender=sender, to_shows=to_shows)
        copies.append(Copy(tuple(internal), shared))
    for rcpt in rcpt_tos:
        if rcpt in internal:
            continue
        pair = visible.get(rcpt.lower(), ("", rcpt))
        copies.append(
            Copy((rcpt,), _with_recipients(fields, rest, _address_field("To", [pair]), None))
        )
    return copies


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()
