"""Each name, label and endpoint of the stack is defined once, in infra/topology.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra import topology
from infra.hosttools import cleanup as host_cleanup
from infra.hosttools import container_metrics as host_container_metrics

INFRA = Path(__file__).resolve().parents[2] / "infra"
# Installed on the host alone, standard library only: the host tools carry their own copy
# of the labels, held equal to topology's below.
HOST_TOOLS = INFRA / "hosttools"
# `ora-{stack}-…` written out, a label literal, or an endpoint's alias and port together.
SECOND_DEFINITIONS = {
    "a name formatted by hand (use topology.name / prefix)": re.compile(r"[\"']ora-\{|\"ora-\" \+"),
    "a label literal (use topology.*_LABEL)": re.compile(r"[\"']org\.ora\."),
    "an endpoint written out (use topology.APP, QDRANT, REDIS, WORKER_METRICS)": re.compile(
        "|".join(
            rf"[\"']{e.host}:{e.port}|[\"']{e.host}[\"'],\s*{e.port}\b|://{e.host}:{e.port}"
            for e in (topology.APP, topology.QDRANT, topology.REDIS, topology.WORKER_METRICS)
        )
    ),
}


def second_definitions(text: str) -> list[str]:
    return [
        f"line {n}: {what}: {line.strip()}"
        for n, line in enumerate(text.splitlines(), 1)
        for what, pattern in SECOND_DEFINITIONS.items()
        if pattern.search(line)
    ]


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(INFRA))
        for p in INFRA.rglob("*.py")
        if p.name != "topology.py" and HOST_TOOLS not in p.parents
    ),
)
def test_no_module_defines_a_name_again(path):
    assert second_definitions((INFRA / path).read_text()) == []


@pytest.mark.parametrize(
    "line",
    [
        'name=f"ora-{stack}-redis"',
        'labels={"org.ora.stack": stack}',
        'url = "http://app:8000/healthz"',
        'app_dns = ("app", 8000)',
        '"-redis.addr=redis://redis:6379"',
        'target = "worker:9100"',
    ],
)
def test_the_check_finds_a_second_definition(line):
    assert second_definitions(line)


def test_the_host_tools_copies_of_the_labels_are_topologys():
    assert host_cleanup.STACK_LABEL == topology.STACK_LABEL
    assert host_container_metrics.STACK_LABEL == topology.STACK_LABEL
    assert host_container_metrics.SERVICE_LABEL == topology.SERVICE_LABEL


def test_names_are_the_projects_the_stacks_and_the_parts():
    assert topology.name("dev", "redis") == "ora-dev-redis"
    assert topology.name("prod", "app", "0") == "ora-prod-app-0"
    assert topology.prefix("dev", "worker") == "ora-dev-worker-"
    assert str(topology.APP) == "app:8000"
