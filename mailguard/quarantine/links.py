"""Signed, expiring links for senders: the notice of a hold carries one, and through it
the sender can cancel, ask for review, or release where the rule allows.

The token names the message and its sender and is signed with the site secret
(``secret.key`` in the data dir, made on first use): changing one character, or
using it after the message's expiry, gets "not valid".
"""

from __future__ import annotations

from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from mailguard.db import Database, database_secret, secret_file

SECRET_FILE = "secret.key"


class BadLink(Exception):
    """Tampered with, expired, or not a link of ours."""


def load_secret(data_dir: Path) -> bytes:
    """The site secret in the data dir (``shared_secret`` when relays share a database)."""
    return secret_file(data_dir, SECRET_FILE)


def shared_secret(db: Database) -> bytes:
    """The site secret kept in the shared database, so every relay and UI agrees."""
    return database_secret(db, "secret", "site_secret")


class SenderLinks:
    def __init__(self, secret: bytes, base_url: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="mailguard-sender-link")
        self.base_url = base_url.rstrip("/")

    def token(self, message_id: str, sender: str) -> str:
        return self._signer.dumps({"m": message_id, "s": sender.lower()})

    def url(self, message_id: str, sender: str) -> str:
        return f"{self.base_url}/s/{self.token(message_id, sender)}"

    def read(self, token: str, max_age: float) -> tuple[str, str]:
        """(message id, sender) from a token no older than ``max_age`` seconds."""
        try:
            data = self._signer.loads(token, max_age=max_age)
        except (SignatureExpired, BadSignature) as exc:
            raise BadLink(type(exc).__name__) from None
        if not isinstance(data, dict) or not {"m", "s"} <= set(data):
            raise BadLink("malformed")
        return str(data["m"]), str(data["s"])
