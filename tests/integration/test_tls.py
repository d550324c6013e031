"""STARTTLS both ways: clients to mailguard, and mailguard to the upstream.

Certificates come from a throwaway CA made for the test (trustme); no test talks to
anything but 127.0.0.1.
"""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from tests.support.mail import compose
from tests.support.net import HOST
from tests.support.sink import Sink
from tests.support.tls import Certificate, certificate_for_loopback

SENDER = "officer@northdown.gov.uk"


@pytest.fixture
def cert(tmp_path) -> Certificate:
    return certificate_for_loopback(tmp_path)


def client_context(cert: Certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert.ca))


def settings_file(tmp_path, text: str):
    path = tmp_path / "tls.yaml"
    path.write_text(text)
    return str(path)


async def send(port: int, **options):
    raw = compose(sender=SENDER, to=["colleague@northdown.gov.uk"])
    return await aiosmtplib.send(
        raw, sender=SENDER, recipients=["colleague@northdown.gov.uk"], hostname=HOST,
        port=port, timeout=30, **options,
    )  # fmt: skip


async def test_clients_can_use_starttls_and_plain_text_is_refused_when_tls_is_required(
    tmp_path, cert, sink, start_mailguard
):
    config = settings_file(
        tmp_path, f"tls_cert: {cert.chain}\ntls_key: {cert.key}\ntls_required: true\n"
    )
    mg = start_mailguard(sink.port, "--config", config)

    _, reply = await send(mg.port, start_tls=True, tls_context=client_context(cert))
    assert reply.startswith("2.0.0")
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(mg.port, start_tls=False)
    assert refused.value.code == 530
    assert len(sink.messages) == 1


@pytest.fixture
def tls_sink(cert):
    """An upstream that offers STARTTLS with the test certificate."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(cert.chain), str(cert.key))
    sink = Sink(tls_context=server)
    sink.start()
    yield sink
    sink.stop()


async def test_the_upstream_connection_uses_starttls_with_a_verified_certificate(
    tmp_path, cert, tls_sink, start_mailguard
):
    config = settings_file(tmp_path, f"upstream_tls: required\nupstream_tls_ca: {cert.ca}\n")
    mg = start_mailguard(tls_sink.port, "--config", config)
    _, reply = await send(mg.port)
    assert reply.startswith("2.0.0")
    [received] = tls_sink.wait_for(1)
    assert received.tls


async def test_required_upstream_tls_never_falls_back_to_plain_text(
    tmp_path, cert, sink, start_mailguard
):
    config = settings_file(tmp_path, f"upstream_tls: required\nupstream_tls_ca: {cert.ca}\n")
    mg = start_mailguard(sink.port, "--config", config)  # this sink offers no STARTTLS
    with pytest.raises(aiosmtplib.SMTPResponseException) as deferred:
        await send(mg.port)
    assert 400 <= deferred.value.code < 500  # the mail waits at the client, never a bounce
    assert sink.messages == []


async def test_an_upstream_certificate_that_does_not_verify_is_a_temporary_failure(
    tmp_path, tls_sink, start_mailguard
):
    config = settings_file(tmp_path, "upstream_tls: required\n")  # system CAs only
    mg = start_mailguard(tls_sink.port, "--config", config)
    with pytest.raises(aiosmtplib.SMTPResponseException) as deferred:
        await send(mg.port)
    assert 400 <= deferred.value.code < 500
    assert tls_sink.messages == []
