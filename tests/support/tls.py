"""Certificates for STARTTLS tests: a throwaway CA and a server certificate for
127.0.0.1, made by trustme (no openssl command, nothing written outside tmp)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certificate:
    ca: Path  # what a client trusts
    chain: Path  # what the server presents
    key: Path


def certificate_for_loopback(directory: Path) -> Certificate:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert = Certificate(directory / "ca.pem", directory / "chain.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(cert.ca))
    issued.private_key_pem.write_to_path(str(cert.key))
    for pem in issued.cert_chain_pems:
        pem.write_to_path(str(cert.chain), append=True)
    return cert
