"""Personal data never reaches the logs."""

import io
import json

from mailguard import log as mglog
from mailguard.addresses import mask_address


def test_address_keeps_only_the_domain():
    assert mask_address("jane.doe@northdown.gov.uk") == "***@northdown.gov.uk"
    assert mask_address("") == "<>"
    assert mask_address("jane.doe@northdown.gov.uk", keep=1) == "j***@northdown.gov.uk"


def test_free_text_addresses_are_masked():
    text = "550 5.1.1 <jane.doe@example.org>: Recipient address rejected; cc bob@x.org"
    assert (
        mglog.mask_text(text)
        == "550 5.1.1 <***@example.org>: Recipient address rejected; cc ***@x.org"
    )


def test_logged_events_are_json_with_addresses_masked():
    stream = io.StringIO()
    mglog.configure("info", stream)
    try:
        mglog.get_logger().info("upstream", reply="550 <jane.doe@example.org> unknown", n=1)
    finally:
        mglog.configure("info")
    event = json.loads(stream.getvalue())
    assert event["event"] == "upstream"
    assert event["reply"] == "550 <***@example.org> unknown"
    assert "jane" not in stream.getvalue()


def test_quoted_local_parts_and_nested_values_are_masked():
    stream = io.StringIO()
    mglog.configure("info", stream)
    try:
        mglog.get_logger().error(
            "policy_reload_failed",
            problems=['p.yaml:1:1: sender "jane doe"@example.org is unknown'],
            nested={"to": ["bob.smith@example.net"]},
        )
    finally:
        mglog.configure("info")
    out = stream.getvalue()
    assert "jane doe" not in out and "bob.smith" not in out
    event = json.loads(out)
    assert event["problems"] == ["p.yaml:1:1: sender ***@example.org is unknown"]
    assert event["nested"] == {"to": ["***@example.net"]}
