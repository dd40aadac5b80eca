"""The rendered alert annotations: where each alert's runbook section is."""

import pytest
import yaml

from infra import config
from infra.monitoring.render import render_prometheus

URL = "https://git.example.com/ops/ora-infra/blob/main/docs/runbook.md"


def annotations(**overrides: str) -> dict[str, dict[str, str]]:
    rules = yaml.safe_load(render_prometheus(config.offline("prod", overrides))["rules.yml"])
    return {rule["alert"]: rule["annotations"] for rule in rules["groups"][0]["rules"]}


DEFAULT = annotations()
LINKED = annotations(runbookUrl=URL)


@pytest.mark.parametrize("alert", sorted(DEFAULT))
def test_without_runbook_url_the_file_and_section_are_named(alert):
    expected = f'docs/runbook.md, section "{alert.lower()}", in the repository'
    assert DEFAULT[alert]["runbook"].startswith(expected), DEFAULT[alert]
    assert "runbook_url" not in DEFAULT[alert]


@pytest.mark.parametrize("alert", sorted(LINKED))
def test_runbook_url_links_each_alert_to_its_section(alert):
    assert LINKED[alert]["runbook"] == LINKED[alert]["runbook_url"] == f"{URL}#{alert.lower()}"


def test_no_link_to_a_repository_nobody_configured():
    assert "github.com" not in render_prometheus(config.offline("prod"))["rules.yml"]
