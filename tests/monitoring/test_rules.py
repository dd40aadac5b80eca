"""`promtool test rules` for every alert, with series generated from the stack's thresholds."""

import subprocess

import pytest
import yaml

from infra import config
from infra.monitoring import rules as monitoring_rules
from infra.monitoring.render import render_prometheus
from infra.monitoring.runtime import DEFAULT_RUNTIME
from tests.monitoring import rule_cases

STACK = config.offline("prod")
ALERTS = {
    a.name: a
    for a in monitoring_rules.alerts(
        STACK.monitoring, DEFAULT_RUNTIME.timing, DEFAULT_RUNTIME.disk_mounts
    )
}


def test_every_alert_has_cases():
    assert set(rule_cases.CASES) == set(ALERTS)


@pytest.mark.parametrize("alert", sorted(rule_cases.CASES))
def test_alert_fires_above_threshold_and_honours_for(alert, tmp_path):
    (tmp_path / "rules.yml").write_text(render_prometheus(STACK)["rules.yml"])
    cases = rule_cases.CASES[alert](STACK.monitoring, DEFAULT_RUNTIME.timing)
    document = rule_cases.promtool_file(alert, ALERTS[alert].severity, cases, "rules.yml")
    test_file = tmp_path / f"{alert}.test.yml"
    test_file.write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run(
        ["promtool", "test", "rules", test_file.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for case in cases:
        print(f"{alert} {case.title}: {case.figure}")


MOVED_THRESHOLDS = [
    ("EdgeErrorRate", {"alertErrorRate": "11"}),
    ("EdgeResponseTime", {"alertResponseTime": "2.1"}),
    ("LogGrowth", {"alertThreshold": "60"}),
    ("QueueDepth", {"alertQueueDepth": "101"}),
    ("DeadLetters", {"alertDeadLetters": "1"}),
    ("JobFailureRate", {"alertJobFailureRate": "51"}),
]


@pytest.mark.parametrize(("alert", "raw"), MOVED_THRESHOLDS, ids=[a for a, _ in MOVED_THRESHOLDS])
def test_cases_fail_when_the_rules_use_another_threshold(alert, raw, tmp_path):
    """The generated cases sit on the configured threshold: rules with a higher one fail them."""
    stack_raw, _ = config.read_stack_file("prod")
    other = config.parse(
        "prod", {**stack_raw, **raw}, secrets_set=STACK.secrets_set, verify_certificate=False
    )
    (tmp_path / "rules.yml").write_text(render_prometheus(other)["rules.yml"])
    cases = rule_cases.CASES[alert](STACK.monitoring, DEFAULT_RUNTIME.timing)
    document = rule_cases.promtool_file(alert, ALERTS[alert].severity, cases, "rules.yml")
    (tmp_path / "t.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run(
        ["promtool", "test", "rules", "t.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert f'alertname="{alert}", alertstate="firing"' in result.stderr
    assert "got: nil" in result.stderr


@pytest.mark.parametrize(("stack", "writer"), [("prod", True), ("dev", False)])
def test_a_missing_container_metrics_file_alerts_where_the_bootstrap_installs_the_writer(
    stack, writer
):
    """prod's bootstrap installs ora-container-metrics: no file there is an alert. dev runs
    no writer (no bootstrap): only a file that stopped being rewritten is."""
    cfg = config.offline(stack)
    assert cfg.access.bootstrap is writer
    rules = yaml.safe_load(render_prometheus(cfg)["rules.yml"])["groups"][0]["rules"]
    (rule,) = [r for r in rules if r["alert"] == "ContainerMetricsStale"]
    assert rule["expr"].startswith(
        f"time() - max by (job) ({monitoring_rules.CONTAINER_METRICS_MTIME})"
    )
    assert ("absent(" in rule["expr"]) is writer
