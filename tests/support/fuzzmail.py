"""Malformed and hostile mail, generated: for the fuzz tests and bench/fuzz_run.py.

``random_message(rng)`` builds a message the way a broken or malicious client might:
MIME trees with wrong, missing or repeated boundaries, bad transfer encodings, unknown
charsets, raw 8-bit headers, deep nesting, huge lines, and attachments that claim to be
spreadsheets, documents, PDFs or zips but are not quite. ``hostile_attachments()``
gives the classic file bombs. All content is synthetic.
"""

from __future__ import annotations

import base64
import gzip
import io
import random
import zipfile

from tests.support import files

_CTYPES = [
    "text/plain", "text/html", "text/csv", "application/pdf", "application/zip",
    "application/octet-stream", "message/rfc822", "image/png",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
]  # fmt: skip
_CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "x-unknown-evil", "utf-16", "", "idna", "cp1252"]
_ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "b4se64"]
_NAMES = ["report.xlsx", "notes.docx", "scan.pdf", "pack.zip", "list.csv", "a.eml", "x", ""]


def _text(rng: random.Random, n: int) -> bytes:
    alphabet = b"abcdefghij klmnop\r\n=-.:;<>@\"'\t\xff\xfe\xc3\xa9\x00"
    return bytes(rng.choice(alphabet) for _ in range(n))


def _leaf(rng: random.Random) -> bytes:
    ctype = rng.choice(_CTYPES)
    headers = [f"Content-Type: {ctype}; charset={rng.choice(_CHARSETS)}".encode()]
    if rng.random() < 0.5:
        name = rng.choice(_NAMES)
        headers.append(f'Content-Disposition: attachment; filename="{name}"'.encode())
    encoding = rng.choice(_ENCODINGS)
    headers.append(f"Content-Transfer-Encoding: {encoding}".encode())
    kind = rng.random()
    if kind < 0.15:
        body = files.csv_bytes(files.residents(rng.randint(1, 30)))
    elif kind < 0.25:
        body = files.zip_bytes({"inner.csv": files.csv_bytes(files.residents(3))})
    elif kind < 0.3:
        body = b"PK\x03\x04" + _text(rng, rng.randint(0, 400))  # a zip that is not one
    elif kind < 0.35:
        body = b"%PDF-1.4\n" + _text(rng, rng.randint(0, 400))  # a PDF that is not one
    else:
        body = _text(rng, rng.randint(0, 2000))
    if encoding == "base64" and rng.random() < 0.7:
        body = base64.encodebytes(body)
        if rng.random() < 0.3:
            body = body[: len(body) // 2] + b"!!*&" + body[len(body) // 2 :]  # broken
    roll = rng.random()
    if roll < 0.05:
        body += b"x" * rng.randint(10_000, 300_000)  # one enormous line, within the limit
    elif roll < 0.052:
        body += b"x" * rng.randint(1_100_000, 1_500_000)  # past 1 MiB: refused (500)
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def _part(rng: random.Random, depth: int) -> bytes:
    if depth <= 0 or rng.random() < 0.45:
        return _leaf(rng)
    boundary = rng.choice(["b", "==x==", "", "a" * 80, f"b{rng.randint(0, 9)}", "--"])
    children = [_part(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    subtype = rng.choice(["mixed", "alternative", "related", "digest", "signed"])
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"'.encode(), b""]
    used = boundary if rng.random() < 0.85 else boundary + "x"  # sometimes the wrong one
    for child in children:
        out.append(f"--{used}".encode())
        out.append(child)
    if rng.random() < 0.8:
        out.append(f"--{used}--".encode())  # sometimes never closed
    return b"\r\n".join(out)


def random_message(rng: random.Random, sender: str, recipient: str) -> bytes:
    headers = [
        f"From: {sender}".encode(),
        f"To: {recipient}".encode(),
        b"Subject: " + rng.choice([b"Report", b"=?utf-8?b?!!!?=", b"\xc3\xa9t\xe9", b"a" * 2000]),
        b"Message-ID: <" + str(rng.random()).encode() + b"@fuzz.example>",
        b"MIME-Version: 1.0",
    ]
    if rng.random() < 0.2:
        headers.append(b"X-Junk: " + _text(rng, 200).replace(b"\r", b"").replace(b"\n", b""))
    if rng.random() < 0.1:
        headers.append(b"To: " + b", ".join(b'"' + _text(rng, 5) + b'" <x@y' for _ in range(5)))
    if rng.random() < 0.05:  # very deep nesting
        depth = rng.randint(50, 400)
        body = (
            b"".join(
                f'Content-Type: multipart/mixed; boundary="d{i}"\r\n\r\n--d{i}\r\n'.encode()
                for i in range(depth)
            )
            + b"Content-Type: text/plain\r\n\r\nbottom\r\n"
        )
    else:
        body = _part(rng, rng.randint(0, 6))
    raw = b"\r\n".join(headers) + b"\r\n" + body + b"\r\n"
    # On the wire every line ends CRLF and no bare CR/LF survives (the relay refuses
    # those outright, which would hide what the parsers do with the rest).
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return b"\r\n".join(line.rstrip(b"\r") for line in lines) + b"\r\n"


def hostile_attachments() -> dict[str, bytes]:
    """The classic attacks on parsers, as files a message might carry."""
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<si><t>&lol9;</t></si></sst>"
    )
    xlsx = _replace_member(
        files.xlsx_bytes(visible=files.residents(3)), "xl/sharedStrings.xml", laughs
    )
    docx = _replace_member(files.docx_bytes(["Dear resident"]), "word/document.xml", laughs)
    nested = files.csv_bytes(files.residents(2))
    for depth in range(12):
        nested = files.zip_bytes({f"level{depth}.zip" if depth else "x.csv": nested})
    encrypted_zip = bytearray(files.zip_bytes({"secret.csv": files.csv_bytes(files.residents(5))}))
    encrypted_zip[6] |= 0x01  # "encrypted" flag in the local header
    cd = encrypted_zip.rfind(b"PK\x01\x02")
    encrypted_zip[cd + 8] |= 0x01  # and in the central directory
    return {
        "bomb.zip": files.zip_bomb(200),
        "nested.zip": nested,
        "laughs.xlsx": xlsx,
        "laughs.docx": docx,
        "loop.pdf": _looping_pdf(),
        "locked.pdf": _encrypted_pdf(),
        "locked.zip": bytes(encrypted_zip),
        "protected.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000,  # OLE: encrypted
        **hostile_new_formats(),
    }


def hostile_new_formats() -> dict[str, bytes]:
    """The same attacks on the readers of issue 16's formats."""
    ods = files.ods_bytes(files.residents(3))
    content = zipfile.ZipFile(io.BytesIO(ods)).read("content.xml")
    # One row with a value, repeated a billion times: the cell budget, not memory.
    repeated = content.replace(
        b"<table:table-row>", b'<table:table-row table:number-rows-repeated="1000000000">', 1
    )
    manifest = zipfile.ZipFile(io.BytesIO(ods)).read("META-INF/manifest.xml")
    # What LibreOffice writes for a password-protected file: content.xml is ciphertext.
    locked = manifest.replace(
        b"</manifest:manifest>",
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        b"<manifest:encryption-data/></manifest:file-entry></manifest:manifest>",
    )
    xls = files.xls_bytes(files.residents(5))
    rows = files.residents(50)
    return {
        "laughs.ods": _replace_member(ods, "content.xml", _laughs(b"office:document-content")),
        "repeated.ods": _replace_member(ods, "content.xml", repeated),
        "locked.ods": _replace_member(ods, "META-INF/manifest.xml", locked),
        "truncated.xls": xls[: len(xls) // 2],
        "truncated.odt": files.odt_bytes(["Dear resident"])[:300],
        "truncated.msg": files.msg_bytes("x", "y", attachments={"a.csv": b"a,b\n" * 3000})[:2000],
        "nested.msg": _nested_msg(40),
        "bomb.gz": gzip.compress(b"\0" * (300 * 1024 * 1024), compresslevel=1),
        "damaged.tgz": b"\x1f\x8b\x08" + b"not a gzip stream" * 20,
        "bomb.7z": files.sevenzip_bytes({"zeros.csv": b"\0" * (40 * 1024 * 1024)}),
        "locked.7z": files.sevenzip_bytes({"r.csv": files.csv_bytes(rows)}, password="x"),
        "sealed.7z": files.sevenzip_bytes(
            {"r.csv": files.csv_bytes(rows)}, password="x", hide_names=True
        ),
        "truncated.7z": files.sevenzip_bytes({"r.csv": files.csv_bytes(rows)})[:-40],
        "deep.rtf": b"{\\rtf1 " + b"{" * 100_000 + b"x" + b"}" * 100_000 + b"}",
    }


def _laughs(root: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]><"
        + root
        + b">&lol9;</"
        + root
        + b">"
    )


def _replace_member(archive: bytes, name: str, data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, data if item.filename == name else src.read(item))
    return out.getvalue()


def _looping_pdf() -> bytes:
    """A PDF whose page tree contains itself."""
    objects = [
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
        b"2 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj",
        b"3 0 obj << /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >> endobj",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for obj in objects:
        offsets.append(len(body))
        body += obj + b"\n"
    xref = len(body)
    body += b"xref\n0 4\n0000000000 65535 f \n"
    body += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    body += b"trailer << /Size 4 /Root 1 0 R >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"
    return body


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(files.pdf_bytes(["NHS number 943 476 5919"]))).pages:
        writer.add_page(page)
    writer.encrypt("a secret password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _nested_msg(depth: int) -> bytes:
    """Outlook messages attached inside each other, deeper than any reader should go."""
    from tests.support.cfb import Node, build

    root = Node("Root Entry")
    node = root
    for n in range(depth):
        node.add("__substg1.0_0037001F", f"level {n}".encode("utf-16-le"))
        attachment = node.add("__attach_version1.0_#00000000")
        node = attachment.add("__substg1.0_3701000D")
    return build(root)
