"""From the app's and the worker's containers, no monitoring port answers: not by alias,
not by container name, not at any of the monitoring container's addresses (issue 23,
finding 5: code run in the app could silence alerts, read Prometheus, or make blackbox
probe for it). Prometheus scrapes them on `internal` but listens on `monitoring` only.

Names are kept apart by Docker's DNS, per network. Addresses are kept apart by the iptables
rules Docker adds (DOCKER-ISOLATION-STAGE-1): an engine run with --iptables=false, as the
e2e's must be on our machines, routes between its networks through the host, so there the
address check is skipped, saying why."""

from __future__ import annotations

import pytest

from infra import config, topology
from infra.monitoring import specs as monitoring_specs

# Every monitoring service a stack may run (Grafana included), with the port it serves.
PORTS = {s.name: s.port for s in monitoring_specs.services(config.offline("prod"))}
CONNECT = (
    "import socket, sys\n"
    "for target in sys.argv[1:]:\n"
    "    host, port = target.rsplit(':', 1)\n"
    "    try:\n"
    "        socket.create_connection((host, int(port)), 3).close(); verdict = 'connected'\n"
    "    except OSError as error:\n"
    "        verdict = type(error).__name__\n"
    "    print(target, verdict)\n"
)


@pytest.fixture(scope="module")
def names(outputs) -> dict:
    return outputs["containers"]


def isolates_networks(host) -> bool:
    return host.run("iptables -S DOCKER-ISOLATION-STAGE-1").rc == 0


def _addresses(inspected: dict) -> list[str]:
    networks = inspected["NetworkSettings"]["Networks"]
    return sorted(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))


@pytest.mark.parametrize("by", ["name", "address"])
@pytest.mark.parametrize("source", ["app", "worker"])
@pytest.mark.parametrize("watcher", sorted(PORTS))
def test_the_app_cannot_reach_a_monitoring_port(host, cfg, outputs, names, source, watcher, by):
    monitoring = outputs.get("monitoring") or {}
    swarm = cfg.swarm.enabled
    # On swarm, the outputs file names the tasks on the node under test; the run on
    # the other nodes checks the others.
    where = "on this node" if swarm else "in this stack"
    if watcher not in monitoring:
        pytest.skip(f"no {watcher} {where}")
    if source not in names:
        pytest.skip(f"no {source} {where}")
    if swarm and watcher == "prometheus":
        pytest.skip("swarm: Prometheus listens on every address of its task (README, swarm)")
    if by == "address" and not isolates_networks(host):
        pytest.skip("this engine runs without iptables: Docker does not isolate its networks")
    container = monitoring[watcher]
    port = PORTS[watcher]
    addresses = _addresses(host.docker(container).inspect())
    # On swarm, the service's name resolves on every network it is on, not the container's.
    named = topology.name(cfg.stack, watcher) if swarm else container
    hosts = [watcher, named] if by == "name" else addresses
    client = names["app"][0] if source == "app" else names["worker"]
    targets = [f"{h}:{port}" for h in hosts]
    command = "docker exec %s /opt/venv/bin/python -c %s" + " %s" * len(targets)
    result = host.run(command, client, CONNECT, *targets)
    assert result.rc == 0, result.stderr
    verdicts = dict(line.rsplit(" ", 1) for line in result.stdout.strip().splitlines())
    reached = {target: v for target, v in verdicts.items() if v == "connected"}
    assert not reached, f"{client} reaches {watcher}: {reached} (all: {verdicts})"
