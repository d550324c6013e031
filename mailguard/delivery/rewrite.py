"""Header surgery on raw message bytes: tag, move recipients to Bcc, one copy each.

Only the header block is touched; the body bytes (and every header we do not
change) go out exactly as received. Rewriting happens before the upstream MTA
signs the message with DKIM, so signatures stay valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.header import Header, decode_header, make_header
from email.utils import getaddresses

from mailguard.addresses import domain_of, in_domains

# A header name then a colon (RFC 5322 3.6.8), with the obsolete syntax's blanks before
# the colon (4.5.8) that receivers still accept: "X-Mailguard-Verdict : pass".
_FIELD_START = re.compile(rb"^[!-9;-~]+[ \t]*:")


def split_head(raw: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (each with its folded lines and CRLF) and the rest of the message."""
    if raw.startswith(b"\r\n"):  # no header block at all: everything is body
        return [], raw
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


def strip_own(raw: bytes) -> bytes:
    """Without any X-Mailguard-* header a sender put in, on every path out (passed,
    released): only mailguard may speak for mailguard. Other bytes are untouched."""
    end = raw.find(b"\r\n\r\n")
    if b"x-mailguard-" not in raw[: end if end >= 0 else len(raw)].lower():
        return raw
    fields, rest = split_head(raw)
    return b"".join(f for f in fields if not _name(f).startswith(b"x-mailguard-")) + rest


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
    if _decoded(value).strip().startswith(prefix):
        return field  # tagged before (a reply, a re-send): once is enough
    if prefix.isascii():
        encoded = prefix.encode() + b" "
    else:  # one encoded word that keeps its trailing space (RFC 2047 drops spaces between words)
        encoded = Header(prefix + " ", "utf-8").encode().encode() + b" "
    return name + b": " + encoded + value.lstrip(b" \t")


def _decoded(value: bytes) -> str:
    text = value.decode("utf-8", "replace").replace("\r\n", "")
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # undecodable encoded words: compare the raw text
        return text


def _addresses(fields: Iterable[bytes], name: bytes) -> list[tuple[str, str]]:
    values = [
        f.split(b":", 1)[1].decode("utf-8", "replace").replace("\r\n", "")
        for f in fields
        if _name(f) == name
    ]
    return [(n, a) for n, a in getaddresses(values) if a]


def _address_field(name: str, addresses: Sequence[tuple[str, str]]) -> bytes:
    folded = ",\r\n ".join(_mailbox(n, a) for n, a in addresses)
    return f"{name}: {folded}\r\n".encode()


def _mailbox(display: str, address: str) -> str:
    """One mailbox whose display name can never read as more addresses.

    ASCII names are a bare phrase only when every word is an atom (and none looks like
    an encoded word); anything else is a quoted string. Other names become RFC 2047
    encoded words, which parsers decode only after they have split the addresses.
    formataddr is not used: it refuses the UTF-8 addresses of SMTPUTF8 mail.
    """
    display = _CONTROL.sub(" ", display).strip()
    if not display:
        return address
    if not display.isascii():
        name = Header(display, "utf-8").encode(linesep="\r\n")
    elif _PHRASE.fullmatch(display) and "=?" not in display:
        name = display
    else:
        name = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PHRASE = re.compile(rf"{_ATOM}(?: {_ATOM})*")


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
        return [p for p in pairs if in_domains(domain_of(p[1]), internal_domains)]

    to = keep(_addresses(fields, b"to"))
    cc = keep(_addresses(fields, b"cc"))
    if to:
        to_field = _address_field("To", to)
    elif to_shows == "sender" and sender:
        to_field = _address_field("To", [("", sender)])
    else:
        to_field = b"To: undisclosed-recipients:;\r\n"
    return _with_recipients(fields, rest, to_field, _address_field("Cc", cc) if cc else None)


def split_plan(rcpt_tos: Sequence[str], internal_domains: Sequence[str]) -> list[tuple[str, ...]]:
    """Who gets which copy: internal recipients share one, each external gets their own."""
    internal = tuple(r for r in rcpt_tos if in_domains(domain_of(r), internal_domains))
    external = [(r,) for r in rcpt_tos if r not in internal]
    return [internal, *external] if internal else external


def split_copy(
    raw: bytes,
    rcpts: tuple[str, ...],
    *,
    internal_domains: Sequence[str],
    sender: str,
    to_shows: str = "undisclosed",
) -> bytes:
    """One copy, built when it is sent: a split to 300 residents never holds 300 copies."""
    if len(rcpts) != 1 or in_domains(domain_of(rcpts[0]), internal_domains):
        return to_bcc(raw, internal_domains=internal_domains, sender=sender, to_shows=to_shows)
    fields, rest = split_head(raw)
    visible = {a.lower(): (n, a) for n, a in _addresses(fields, b"to") + _addresses(fields, b"cc")}
    pair = visible.get(rcpts[0].lower(), ("", rcpts[0]))
    return _with_recipients(fields, rest, _address_field("To", [pair]), None)
