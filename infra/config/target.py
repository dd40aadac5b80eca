"""ora:target, where the stack runs: one Docker host (the default) or a Docker Swarm; the
swarm's keys, their checks and their reader.

Read by `infra.config.parse` through the `Reader`: every value is checked, and a bad one
becomes one problem naming the key, the value and the fix. What each target can honour
is capabilities.py's table. `Swarm` and `SwarmNode` live in types.py, with the other
sections; they are handed on from here.
"""

from __future__ import annotations

import ipaddress

from infra.config import checks
from infra.config.checks import Invalid
from infra.config.reader import Reader
from infra.config.types import SINGLE_HOST, TARGETS, Swarm, SwarmNode

__all__ = [
    "DATA_LABEL",
    "EDGE_LABEL",
    "NODE_FORMAT",
    "NODE_LABELS",
    "ROLES",
    "SINGLE_HOST",
    "TARGETS",
    "Swarm",
    "SwarmNode",
    "address_pool",
    "nodes",
    "read",
]

# Node labels the swarm services are placed by (`docker node update --label-add`).
EDGE_LABEL = "ora.edge"  # the node(s) whose 80/443 nginx publishes in host mode
DATA_LABEL = "ora.data"  # the node holding the Redis and Qdrant volumes
NODE_LABELS = (EDGE_LABEL, DATA_LABEL)
ROLES = ("manager", "worker")
NODE_FORMAT = "HOST ROLE [ora.edge] [ora.data] [advertise=IP], one node a line"


def read(r: Reader) -> Swarm:
    swarm = Swarm(
        target=r.get("target", lambda v: checks.choice(v, TARGETS), "host"),
        max_replicas_per_node=r.get(
            "swarmMaxReplicasPerNode", lambda v: checks.integer(v, 0, 16), 2
        ),
        encrypted_network=r.get("swarmEncryptedNetwork", checks.boolean, False),
        nodes=r.get("swarmNodes", nodes, ()),
        address_pool=r.get("swarmAddressPool", address_pool, ""),
        data_node_moved=r.get("swarmDataNodeMoved", checks.boolean, False),
    )
    if not swarm.enabled:
        for key in ("swarmNodes", "swarmAddressPool", "swarmDataNodeMoved"):
            if r.text(key) not in ("", "false"):
                why = Invalid("is set but ora:target is host", "set ora:target swarm, or remove it")
                r.fail(key, repr(r.text(key)), why)
        return swarm
    _check_nodes(r, swarm.nodes)
    if not r.text("appImage"):
        r.fail(
            "appImage",
            "''",
            Invalid(
                "is empty but ora:target is swarm, whose nodes build nothing",
                "build and push app/ in CI, then pulumi config set ora:appImage NAME@sha256:DIGEST",
            ),
        )
    if r.text("bootstrapHost") == "true":
        r.fail(
            "bootstrapHost",
            "'true'",
            Invalid(
                "prepares one host, not a swarm",
                "set it to false and form the swarm as the README's swarm section says",
            ),
        )
    return swarm


def _node(line: str) -> SwarmNode:
    host, role, *rest = [*line.split(), ""]
    checks.host_or_ip(host)
    checks.choice(role, ROLES)
    labels, advertise = [], ""
    for word in filter(None, rest):
        if word.startswith("advertise="):
            advertise = checks.ip_address(word.removeprefix("advertise="))
        elif word in NODE_LABELS:
            labels.append(word)
        else:
            raise Invalid(f"has {word!r}, neither a node label nor advertise=IP", NODE_FORMAT)
    if not advertise:
        try:
            advertise = str(ipaddress.ip_address(host))
        except ValueError:
            raise Invalid(
                f"names {host} by DNS name, but the swarm advertises an IP",
                f"add advertise=IP to the line of {host}",
            ) from None
    return SwarmNode(host, role, tuple(labels), advertise)


def nodes(text: str) -> tuple[SwarmNode, ...]:
    """ora:swarmNodes: empty, or one `HOST ROLE [LABEL...] [advertise=IP]` a line."""
    found = []
    for number, line in enumerate(text.strip().splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append(_node(line))
        except Invalid as err:
            raise Invalid(f"line {number} ({line.strip()!r}) {err.reason}", err.fix) from None
    return tuple(found)


def address_pool(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ipaddress.ip_network(text))
    except ValueError:
        raise Invalid("is not a network", "use a CIDR clear of the nodes' networks") from None


def _check_nodes(r: Reader, found: tuple[SwarmNode, ...]) -> None:
    """The rules across lines: what the bootstrap and the placement need."""
    if not found:
        return
    shown = repr(r.text("swarmNodes"))
    rules = [
        (found[0].role != "manager", "starts with a worker", "put the first manager first"),
        (
            sum(DATA_LABEL in n.labels for n in found) != 1,
            f"has {sum(DATA_LABEL in n.labels for n in found)} nodes labelled {DATA_LABEL}",
            f"label exactly one node {DATA_LABEL} (Redis and Qdrant keep their volumes there)",
        ),
        (
            not any(EDGE_LABEL in n.labels for n in found),
            f"has no node labelled {EDGE_LABEL}",
            f"label the node(s) that publish 80/443 {EDGE_LABEL}",
        ),
        (
            len({n.host for n in found}) != len(found),
            "names a host twice",
            "list every node once",
        ),
    ]
    for broken, reason, fix in rules:
        if broken:
            r.fail("swarmNodes", shown, Invalid(reason, fix))
    if r.text("host") != found[0].host:
        r.fail(
            "host",
            repr(r.text("host")),
            Invalid(
                f"is not the first manager of ora:swarmNodes ({found[0].host}),"
                " which the Docker provider must talk to",
                f"pulumi config set ora:host {found[0].host}",
            ),
        )
