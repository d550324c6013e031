"""Outlook saved messages (.msg): the headers a reader sees, the body (plain and
HTML), and the attachments, including messages attached inside (read recursively).

Read with olefile from the MAPI property streams (MS-OXMSG): ``__substg1.0_PPPPTTTT``
where PPPP is the property and TTTT its type (001F UTF-16, 001E 8-bit, 0102 binary).
Every stream read is budgeted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailguard.intake.budget import Budget, Uninspectable

_SUBJECT, _BODY, _HTML = "0037", "1000", "1013"
_FROM, _TO, _CC = "0C1A", "0E04", "0E03"
_ATTACH_DATA, _ATTACH_LONG_NAME, _ATTACH_NAME = "3701", "3707", "3704"
_MAX_NESTING = 8  # attached messages inside attached messages


@dataclass(slots=True)
class Saved:
    text: str = ""  # the header lines a reader sees, then the plain body
    html: str = ""
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    messages: list[tuple[str, Saved]] = field(default_factory=list)


def read(data: bytes, budget: Budget) -> Saved:
    import olefile

    try:
        ole = olefile.OleFileIO(data)
    except Exception:
        raise Uninspectable("not a readable Outlook message", structural=False) from None
    try:
        if getattr(ole, "parsing_issues", None):  # olefile reads on past damage
            raise Uninspectable("a damaged Outlook message", structural=False)
        return _message(ole, "", budget, 0)
    except OSError as exc:  # a stream cut short (olefile's errors are OSErrors)
        raise Uninspectable(
            f"a damaged Outlook message ({type(exc).__name__})", structural=False
        ) from None
    finally:
        ole.close()


def _message(ole: object, base: str, budget: Budget, nesting: int) -> Saved:
    if nesting > _MAX_NESTING:
        raise Uninspectable("messages attached too deeply")
    budget.tick()
    saved = Saved()
    lines = []
    for label, prop in (("From", _FROM), ("To", _TO), ("Cc", _CC), ("Subject", _SUBJECT)):
        value = _string(ole, base, prop, budget)
        if value:
            lines.append(f"{label}: {value}")
    body = _string(ole, base, _BODY, budget)
    saved.text = "\n".join(lines) + ("\n\n" + body if body else "")
    html = _binary(ole, base, _HTML, budget)
    if html:
        saved.html = html.decode("utf-8", "replace")
    for storage in _children(ole, base, "__attach_version1.0_#"):
        budget.tick()
        name = (
            _string(ole, storage, _ATTACH_LONG_NAME, budget)
            or _string(ole, storage, _ATTACH_NAME, budget)
            or "attachment"
        )
        inner = f"{storage}/__substg1.0_{_ATTACH_DATA}000D"
        if ole.exists(inner):  # type: ignore[attr-defined]
            saved.messages.append((name, _message(ole, inner, budget, nesting + 1)))
            continue
        content = _binary(ole, storage, _ATTACH_DATA, budget)
        if content:
            saved.attachments.append((name, content))
    return saved


def _children(ole: object, base: str, prefix: str) -> list[str]:
    depth = len(base.split("/")) if base else 0
    found = set()
    for entry in ole.listdir(streams=False, storages=True):  # type: ignore[attr-defined]
        path = "/".join(entry)
        if len(entry) == depth + 1 and path.startswith(base) and entry[-1].startswith(prefix):
            found.add(path)
    return sorted(found)


def _stream(ole: object, base: str, name: str, budget: Budget) -> bytes | None:
    path = f"{base}/{name}" if base else name
    if not ole.exists(path):  # type: ignore[attr-defined]
        return None
    size = ole.get_size(path)  # type: ignore[attr-defined]
    budget.spend(size)
    return ole.openstream(path).read()  # type: ignore[attr-defined]


def _string(ole: object, base: str, prop: str, budget: Budget) -> str:
    data = _stream(ole, base, f"__substg1.0_{prop}001F", budget)
    if data is not None:
        return data.decode("utf-16-le", "replace").rstrip("\x00")
    data = _stream(ole, base, f"__substg1.0_{prop}001E", budget)
    return data.decode("cp1252", "replace").rstrip("\x00") if data is not None else ""


def _binary(ole: object, base: str, prop: str, budget: Budget) -> bytes:
    return _stream(ole, base, f"__substg1.0_{prop}0102", budget) or b""
