"""The post-deploy suite's inputs: the host (--hosts), the stack (--stack) and its outputs.

    pytest tests/infra --hosts=local:// --stack dev --stack-outputs outputs.json
    pytest tests/infra --hosts=ssh://deploy@HOST --stack prod -m prod

Expectations come from the stack's config (`infra.config.offline`) and from the
program's own declarations, never from literals here. Collected only when asked
for by path: run against the wrong host, every check would fail.

On the swarm target (`ora:target swarm`) the suite runs once per node, with
DOCKER_HOST set to that node's engine and `containers` in the outputs file naming the
stack's task containers on that node (tests/swarm writes it). A check the swarm target
cannot pass carries `@pytest.mark.host_only(reason)` and is skipped there with that reason;
its equivalent, the same promise kept the swarm's way, carries `swarm_only(reason)`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import config as stack_config
from tests.named import deselect_unless_named

SERVICES_FIXED = ("nginx", "redis", "qdrant", "worker")
SWARM_SERVICE = "docker:index/service:Service"


def pytest_addoption(parser):
    parser.addoption("--stack", default="dev", help="stack whose config states the expectations")
    parser.addoption("--stack-outputs", default=None, help="JSON of `pulumi stack output --json`")
    parser.addoption(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value the deploy overrode (e.g. httpsPort=8443), over the stack file",
    )


def pytest_collection_modifyitems(config, items):
    deselect_unless_named(config, items, Path(__file__).parent)
    # host_only skips on swarm; swarm_only, its equivalent there, skips on one host.
    other = "host_only" if _cfg(config).swarm.enabled else "swarm_only"
    for item in items:
        marker = item.get_closest_marker(other)
        if marker is None:
            continue
        if not marker.args or not marker.args[0]:
            raise pytest.UsageError(f"{item.nodeid}: {other} needs its reason")
        where = "swarm" if other == "host_only" else "one host"
        item.add_marker(pytest.mark.skip(reason=f"not on {where}: {marker.args[0]}"))


def _outputs_file(config) -> dict:
    path = config.getoption("--stack-outputs")
    return json.loads(Path(path).read_text()) if path else {}


def _overrides(config) -> dict[str, str]:
    overrides = {}
    for item in config.getoption("--set"):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise pytest.UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set grafana=false")
        overrides[key] = value
    return overrides


def _cfg(config) -> stack_config.StackConfig:
    return stack_config.offline(config.getoption("--stack"), _overrides(config))


def pytest_generate_tests(metafunc):
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", _services(metafunc.config))


def _services(config) -> list[str]:
    """host: every service of the config; swarm: the tasks on the node under test."""
    if _cfg(config).swarm.enabled:
        here = _outputs_file(config).get("containers", {})
        fixed = [s for s in SERVICES_FIXED if s in here]
        return [*fixed, *(f"app-{i}" for i in range(len(here.get("app", []))))]
    replicas = _cfg(config).sizes.app_replicas
    return [*SERVICES_FIXED, *(f"app-{i}" for i in range(replicas))]


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
def declared(request, cfg):
    """The program's containers as it declares them for this stack (run under mocks)."""
    from tests.unit.program import evaluate

    # A secret key given with --set (the swarm e2e's smtpPassword) is a secure value, as
    # `pulumi config set --secret` makes it; the program refuses it as plain text.
    secret = set(stack_config.schema.secret_keys())
    overrides = _overrides(request.config)
    graph = evaluate(
        cfg.stack,
        {k: v for k, v in overrides.items() if k not in secret},
        secrets={k: v for k, v in overrides.items() if k in secret} or None,
    )
    if cfg.swarm.enabled:
        return {_service_key(s): s for s in map(as_container, graph.of_type(SWARM_SERVICE))}
    return {_service_key(c): c for c in graph.containers}


def as_container(service):
    """A declared Swarm service, read as the container its tasks run: the keys of a
    docker.Container that the checks compare with (no restart policy: Swarm restarts
    the tasks; no security options: see infra.targets.swarm.spec.NOT_IN_SWARM)."""
    from tests.unit.program import Resource

    task = service.plain("taskSpec")
    spec = task["containerSpec"]
    inputs = {
        "user": spec.get("user"),
        "labels": spec.get("labels") or [],
        "logDriver": task["logDriver"]["name"],
        "logOpts": task["logDriver"]["options"],
        "capabilities": {"drops": spec.get("capDrops"), "adds": spec.get("capAdds")},
        "readOnly": spec.get("readOnly"),
        "memory": int(task["resources"]["limits"]["memoryBytes"]) // (1024 * 1024),
    }
    return Resource(service.type, service.name, inputs)


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
