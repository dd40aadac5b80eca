"""Grafana cannot run here (not in Debian, PyPI or npm): its provisioning files are checked
against the documented provisioning schema instead, and every panel's query is run against
a real Prometheus by the e2e (tests/e2e/test_monitoring.py)."""

import json

import pytest

from infra import config
from infra.monitoring import dashboard
from infra.monitoring import specs as monitoring_specs

STACKS = ("dev", "prod")


@pytest.fixture(params=STACKS)
def files(request):
    return dashboard.grafana_files(config.offline(request.param))


def test_datasource_is_the_one_the_panels_name(files):
    document = json.loads(files["grafana/provisioning/datasources/ora.yml"])
    assert document["apiVersion"] == 1
    (source,) = document["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == dashboard.DATASOURCE["uid"]
    assert source["url"] == "http://prometheus:9090" and source["access"] == "proxy"


def test_dashboard_provider_reads_the_installed_dashboards(files):
    document = json.loads(files["grafana/provisioning/dashboards/ora.yml"])
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == f"{monitoring_specs.CURRENT}/grafana/dashboards"
    assert "grafana/dashboards/ora.json" in files


def test_dashboard_panels_use_the_provisioned_datasource(files):
    board = json.loads(files["grafana/dashboards/ora.json"])
    assert board["uid"] == "ora" and board["panels"]
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert target["datasource"] == dashboard.DATASOURCE, panel["title"]


def test_grafana_environment_turns_anonymous_access_off():
    env = dict(item.split("=", 1) for item in monitoring_specs.GRAFANA_ENV)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana-admin-password"
    assert env["GF_PATHS_PROVISIONING"] == f"{monitoring_specs.CURRENT}/grafana/provisioning"
