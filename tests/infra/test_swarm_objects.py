"""What a swarm keeps in its managers' objects, read on a manager: every declared service
deployed, each restarting its tasks, and no secret or config left over (the one-shot
installers' promise on one host: they ran, and kept no copy).

The suite runs once per node (tests/swarm); a worker cannot read services, so there these
checks are skipped, and the manager's run makes them for the whole stack."""

from __future__ import annotations

import json

import pytest

from infra import topology
from infra.targets.swarm import spec as swarm_spec

pytestmark = pytest.mark.swarm_only("a swarm's services, secrets and configs")


@pytest.fixture(scope="module")
def services(host, cfg) -> dict[str, dict]:
    """The stack's services as the manager inspects them, by name."""
    control = host.check_output("docker info --format '{{.Swarm.ControlAvailable}}'")
    if control.strip() != "true":
        pytest.skip("a worker node: only a manager reads services; the manager's run checks")
    names = host.check_output(
        "docker service ls --filter label=%s=%s --format '{{.Name}}'",
        topology.STACK_LABEL,
        cfg.stack,
    ).split()
    return {
        name: json.loads(host.check_output("docker service inspect %s", name))[0] for name in names
    }


def test_every_declared_service_is_deployed(services, declared):
    deployed = {s["Spec"]["Labels"].get(topology.SERVICE_LABEL) for s in services.values()}
    assert deployed == set(declared), sorted(services)


def test_every_service_restarts_its_tasks(services):
    for name, service in services.items():
        policy = service["Spec"]["TaskTemplate"].get("RestartPolicy") or {}
        assert policy.get("Condition") == swarm_spec.RESTART_CONDITION, f"{name}: {policy}"
        assert not policy.get("MaxAttempts"), f"{name}: gives up after {policy['MaxAttempts']}"


def _mounted(services: dict[str, dict], kind: str, key: str) -> set[str]:
    return {
        mount[key]
        for service in services.values()
        for mount in service["Spec"]["TaskTemplate"]["ContainerSpec"].get(kind) or []
    }


def test_no_secret_or_config_of_the_stack_is_left_unused(host, cfg, services):
    """A secret or config replaced by a deploy (a new content, a new name) is deleted once
    no task mounts it: a stale credential does not stay readable on the managers."""
    secrets = host.check_output(
        "docker secret ls --filter label=%s=%s --format '{{.Name}}'",
        topology.STACK_LABEL,
        cfg.stack,
    ).split()
    configs = [
        name
        for name in host.check_output("docker config ls --format '{{.Name}}'").split()
        if name.startswith(topology.prefix(cfg.stack))
    ]
    assert secrets, "the stack has no secret"
    assert sorted(set(secrets) - _mounted(services, "Secrets", "SecretName")) == []
    assert sorted(set(configs) - _mounted(services, "Configs", "ConfigName")) == []
