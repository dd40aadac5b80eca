"""The e2e swarm formed by the prod bootstrap's scripts (infra/bootstrap/swarm_scripts.py): init,
the join tokens, the joins with the token on stdin, the labels. Each script runs as the
remote Command runs it over SSH (`sh -c "bash -c SCRIPT"`), here against its node's
socket instead of over SSH. Two passes: the second must change no membership and take
away the label the first gave node 3 (idempotent, and labels follow the config).
"""

from __future__ import annotations

import subprocess

import docker

from infra.bootstrap import swarm_scripts
from infra.config import target as target_section

ADDRESS_POOL = "10.214.0.0/16"  # the overlays' subnets, clear of the host's networks
# The stack's nodes as an operator writes ora:swarmNodes: node 1 (the manager) is the
# edge, node 2 holds the data, node 3 is a plain worker (the node the test loses).
FORMED_NODES = """10.213.7.1 manager ora.edge
10.213.7.2 worker ora.data
10.213.7.3 worker
"""
# A first pass that labels node 3 an edge too: the second must take that label away.
FIRST_PASS = FORMED_NODES.replace("10.213.7.3 worker", "10.213.7.3 worker ora.edge")


def form(manager: docker.DockerClient, sockets: dict[str, str]) -> dict[str, str]:
    """Forms the swarm of the nodes at `sockets` (advertise address -> engine socket);
    returns each address's node ID. `manager` is a client of the first node's engine."""
    first_ids = _form(FIRST_PASS, sockets)
    ids = _form(FORMED_NODES, sockets)
    if ids != first_ids:
        raise RuntimeError(f"the second pass changed the swarm: {first_ids} -> {ids}")
    labels = {
        address: manager.nodes.get(node_id).attrs["Spec"].get("Labels") or {}
        for address, node_id in ids.items()
    }
    wanted = {
        node.advertise: {label: "true" for label in node.labels}
        for node in target_section.nodes(FORMED_NODES)
    }
    if labels != wanted:
        raise RuntimeError(f"node labels {labels}, not those of the config {wanted}")
    return ids


def _form(spec: str, sockets: dict[str, str]) -> dict[str, str]:
    nodes = target_section.nodes(spec)
    first = nodes[0]
    on_first = sockets[first.advertise]
    ids = {
        first.advertise: run_script(
            first, swarm_scripts.init_script(first.advertise, ADDRESS_POOL, on_first)
        )
    }
    tokens = {
        role: run_script(first, swarm_scripts.token_script(role, on_first))
        for role in {node.role for node in nodes[1:]}
    }
    for node in nodes[1:]:
        # The token reaches the node on stdin, in the Engine API's join request.
        body = swarm_scripts.join_body(tokens[node.role], first.advertise, node.advertise)
        script = swarm_scripts.join_script(sockets[node.advertise])
        ids[node.advertise] = run_script(node, script, stdin=body)
    for node in nodes:
        script = swarm_scripts.label_script(
            ids[node.advertise], node.labels, node.role, socket=on_first
        )
        run_script(first, script)
    return ids


def run_script(node: target_section.SwarmNode | str, script: str, stdin: str = "") -> str:
    """One bootstrap script, as the remote Command runs it; its stdout, stripped."""
    done = subprocess.run(
        ["sh", "-c", swarm_scripts.in_bash(script)], input=stdin, capture_output=True, text=True
    )
    if done.returncode:
        host = getattr(node, "host", node)
        raise ScriptFailed(f"a bootstrap script failed on {host}: {done.stderr[-2000:]}")
    return done.stdout.strip()


class ScriptFailed(RuntimeError):
    pass
