"""Synthetic test mail (Faker en_GB); never real people."""

from __future__ import annotations

import uuid

from faker import Faker

fake = Faker("en_GB")
Faker.seed(4242)

COUNCIL = "northdown.gov.uk"


def address(domain: str = COUNCIL) -> str:
    return f"{fake.user_name()}.{uuid.uuid4().hex[:6]}@{domain}"


def compose(
    *,
    sender: str | None = None,
    to: list[str] | None = None,
    subject: str = "Planning application update",
    body: str | None = None,
    extra_headers: list[str] = (),
) -> bytes:
    """A plain message with CRLF line endings, as an MTA would send it."""
    sender = sender or address()
    to = to or [address("example.org")]
    body = body if body is not None else "\n\n".join(fake.paragraphs(3))
    headers = [
        f"From: {fake.name()} <{sender}>",
        f"To: {', '.join(to)}",
        f"Subject: {subject}",
        f"Message-ID: <{uuid.uuid4().hex}@{COUNCIL}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        *extra_headers,
    ]
    text = "\r\n".join(headers) + "\r\n\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")
    if not text.endswith("\r\n"):
        text += "\r\n"
    return text.encode("utf-8")


def message_id(content: bytes) -> str:
    for line in content.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""
