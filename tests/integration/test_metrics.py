"""What Prometheus and a load balancer see: ``/metrics`` and ``/healthz`` on the web port."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.support.net import HOST, free_port
from tests.support.sink import Sink
from tests.support.webui import send, wait_until

POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - name: hold-outside
    when: {recipient_domain: [example.org]}
    action: hold
  - name: tag-visible-list
    when: {finding: {detector: bulk_visible}}
    action: tag
"""


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample, or 0 when it is not there."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(want)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def relay(tmp_path, sink, start_mailguard):
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "c.yaml").write_text("health_check_interval: 0.3\n")
    port = free_port()
    mg = start_mailguard(
        sink.port, "--policy", str(tmp_path / "p.yaml"), "--config", str(tmp_path / "c.yaml"),
        "--web", f"{HOST}:{port}",
    )  # fmt: skip
    return mg, f"http://{HOST}:{port}"


def test_metrics_count_messages_rules_findings_and_the_quarantine(relay, sink):
    mg, base = relay
    send(mg.port, ["colleague@northdown.gov.uk"])
    send(mg.port, ["a@example.net", "b@example.com", "c@example.com"])  # visible list: tag
    send(mg.port, ["resident@example.org"])  # held
    assert wait_until(lambda: len(sink.messages) >= 2)

    text = httpx.get(f"{base}/metrics").text
    assert metric(text, "mailguard_messages_total", action="pass", reply="2xx") == 1
    assert metric(text, "mailguard_messages_total", action="tag", reply="2xx") == 1
    assert metric(text, "mailguard_messages_total", action="hold", reply="2xx") == 1
    assert metric(text, "mailguard_rule_hits_total", rule="hold-outside") == 1
    assert metric(text, "mailguard_findings_total", type="BULK_VISIBLE") == 1
    assert metric(text, "mailguard_inspection_seconds_count") == 3
    assert metric(text, "mailguard_upstream_seconds_count") >= 2
    assert metric(text, "mailguard_quarantine_messages", state="held") == 1
    assert metric(text, "mailguard_workers", state="size") == 1
    assert re.search(r'^mailguard_policy_info\{version="[0-9a-f]{12}"\} 1', text, re.M)
    assert "@" not in text  # no address ever becomes a label


def test_upstream_errors_are_counted_and_healthz_follows_the_upstream(relay, sink):
    mg, base = relay
    port = sink.port
    assert wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200)
    assert httpx.get(f"{base}/healthz").text.startswith("ok, policy ")
    sink.stop()
    assert wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 503)
    assert "upstream" in httpx.get(f"{base}/healthz").text
    with pytest.raises(Exception, match="4"):
        send(mg.port, ["colleague@northdown.gov.uk"])
    text = httpx.get(f"{base}/metrics").text
    assert metric(text, "mailguard_upstream_errors_total", stage="MAIL") == 1
    assert metric(text, "mailguard_upstream_up", check="probe") == 0
    back = Sink(port=port)
    back.start()
    try:
        assert wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200)
    finally:
        back.stop()


def test_metrics_are_only_for_the_allowed_networks(tmp_path, sink, start_mailguard):
    (tmp_path / "c.yaml").write_text('metrics_allow: ["10.99.0.0/16"]\n')
    port = free_port()
    start_mailguard(sink.port, "--config", str(tmp_path / "c.yaml"), "--web", f"{HOST}:{port}")
    assert httpx.get(f"http://{HOST}:{port}/metrics").status_code == 403
    assert httpx.get(f"http://{HOST}:{port}/healthz").status_code == 200


def test_the_shipped_grafana_dashboard_only_asks_for_metrics_that_exist(relay, sink):
    mg, base = relay
    send(mg.port, ["colleague@northdown.gov.uk"])
    assert wait_until(lambda: len(sink.messages) == 1)
    exposed = httpx.get(f"{base}/metrics").text
    dashboard = Path(__file__).parents[2] / "deploy" / "grafana" / "mailguard-dashboard.json"
    panels = json.loads(dashboard.read_text())["panels"]
    wanted = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"mailguard_\w+", target["expr"])
    }
    families = set(re.findall(r"^# TYPE (\w+) ", exposed, re.M))

    def family(name: str) -> str:
        return re.sub(r"_(total|bucket|count|sum)$", "", name)

    missing = {n for n in wanted if n not in families and family(n) not in families}
    assert wanted and not missing, missing
