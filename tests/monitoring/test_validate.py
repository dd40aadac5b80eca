"""Every stack's rendered monitoring files pass the real tools' own checks."""

import subprocess

import pytest

from infra import config
from infra.monitoring import rules as monitoring_rules
from tests.monitoring import rendered


def run(*argv):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(params=rendered.STACKS)
def files(request, tmp_path):
    stack_config = config.offline(request.param)
    return rendered.write(stack_config, tmp_path, rendered.local_runtime(tmp_path))


def test_promtool_checks_prometheus_config(files):
    out = run("promtool", "check", "config", str(files / "prometheus.yml"))
    assert "SUCCESS" in out


def test_promtool_checks_rules(files):
    out = run("promtool", "check", "rules", str(files / "rules.yml"))
    assert f"SUCCESS: {len(monitoring_rules.PANELS)} rules found" in out  # one rule per alert


def test_amtool_checks_alertmanager_config(files):
    out = run("amtool", "check-config", str(files / "alertmanager.yml"))
    assert "1 inhibit rules" in out and "1 templates" in out


def test_mtail_compiles_programs(files):
    run("mtail", "--compile_only", "--logtostderr", "--progs", str(files / "mtail"))


def test_blackbox_exporter_checks_its_config(files):
    out = run(
        "prometheus-blackbox-exporter", "--config.check", f"--config.file={files / 'blackbox.yml'}"
    )
    assert "Config file is ok" in out


def test_alertmanager_requires_tls_and_reads_password_from_file(files):
    text = (files / "alertmanager.yml").read_text()
    assert "smtp_require_tls: true" in text
    assert "test-secret" not in text


def test_qdrant_key_is_a_file_never_inline(files):
    text = (files / "prometheus.yml").read_text()
    assert f"credentials_file: {files}/secrets/qdrant-api-key" in text
    assert "test-secret" not in text


def test_every_alert_has_a_runbook_section():
    from infra.monitoring import rules as monitoring_rules
    from infra.monitoring.runtime import DEFAULT_RUNTIME

    runbook = (config.schema.PROJECT_ROOT / "docs" / "runbook.md").read_text()
    stack = config.offline("prod")
    for alert in monitoring_rules.alerts(stack.monitoring, DEFAULT_RUNTIME.timing, ("/",)):
        assert f"\n## {alert.name.lower()}\n" in runbook
