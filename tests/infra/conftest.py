"""The post-deploy suite's inputs: the host (--hosts), the stack (--stack) and its outputs.

    pytest tests/infra --hosts=local:// --stack dev --stack-outputs outputs.json
    pytest tests/infra --hosts=ssh://deploy@HOST --stack prod -m prod

Expectations come from the stack's config (`infra.config.offline`) and from the
program's own declarations, never from literals here. Collected only when asked
for by path: run against the wrong host, every check would fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import config as stack_config
from tests.named import deselect_unless_named

SERVICES_FIXED = ("nginx", "redis", "qdrant", "worker")


def pytest_addoption(parser):
    parser.addoption("--stack", default="dev", help="stack whose config states the expectations")
    parser.addoption("--stack-outputs", default=None, help="JSON of `pulumi stack output --json`")
    parser.addoption(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a plain config value the stack was applied with beyond its file (not a secret)",
    )


def pytest_collection_modifyitems(config, items):
    deselect_unless_named(config, items, Path(__file__).parent)


def _cfg(config) -> stack_config.StackConfig:
    overrides = {}
    for item in config.getoption("--set"):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise pytest.UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set grafana=false")
        overrides[key] = value
    return stack_config.offline(config.getoption("--stack"), overrides)


def pytest_generate_tests(metafunc):
    if "service" in metafunc.fixturenames:
        replicas = _cfg(metafunc.config).sizes.app_replicas
        services = [*SERVICES_FIXED, *(f"app-{i}" for i in range(replicas))]
        metafunc.parametrize("service", services)


@pytest.fixture(scope="session")
def cfg(request) -> stack_config.StackConfig:
    return _cfg(request.config)


@pytest.fixture(scope="session")
def outputs(request) -> dict:
    path = request.config.getoption("--stack-outputs")
    if not path:
        pytest.fail("--stack-outputs FILE is required (pulumi stack output --json > FILE)")
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def declared(cfg):
    """The program's containers as it declares them for this stack (run under mocks)."""
    from tests.unit.program import evaluate

    graph = evaluate(cfg.stack)
    return {_service_key(c): c for c in graph.containers}


def _service_key(container) -> str:
    labels = {i["label"]: i["value"] for i in container.plain("labels", [])}
    return labels["org.ora.service"]


@pytest.fixture
def container_name(service, outputs) -> str:
    names = outputs["containers"]
    if service.startswith("app-"):
        return names["app"][int(service.split("-")[1])]
    return names[service]


@pytest.fixture
def inspected(host, container_name) -> dict:
    return host.docker(container_name).inspect()


@pytest.fixture
def spec(service, declared):
    return declared["app" if service.startswith("app-") else service]
