"""The deployment target of a stack: one Docker host (default) or a Docker Swarm.

Read by `infra.config.parse` through its reader, following config.py's pattern: every
value is checked, and a bad one becomes one problem naming the key, the value and the fix.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from infra.config import checks
from infra.config.checks import Invalid

TARGETS = ("host", "swarm")
# Node labels the swarm services are placed by (`docker node update --label-add`).
EDGE_LABEL = "ora.edge"  # the node(s) whose 80/443 nginx publishes in host mode
DATA_LABEL = "ora.data"  # the node holding the Redis and Qdrant volumes
NODE_LABELS = (EDGE_LABEL, DATA_LABEL)
ROLES = ("manager", "worker")
NODE_FORMAT = "HOST ROLE [ora.edge] [ora.data] [advertise=IP], one node a line"


@dataclass(frozen=True)
class SwarmNode:
    """One line of ora:swarmNodes: a node the bootstrap reaches over SSH."""

    host: str  # SSH address (DNS name or IP)
    role: str  # manager | worker
    labels: tuple[str, ...]  # of NODE_LABELS, set to true on the node
    advertise: str  # the IP the swarm advertises (defaults to host when host is an IP)


@dataclass(frozen=True)
class Swarm:
    target: str  # host | swarm
    max_replicas_per_node: int  # app replicas one node may run at once
    encrypted_network: bool  # --opt encrypted on the overlay networks
    # Formed by the bootstrap over SSH (infra/bootstrap/swarm.py); empty: formed by hand.
    nodes: tuple[SwarmNode, ...] = ()
    address_pool: str = ""  # swarm init --default-addr-pool; empty: Docker's 10.0.0.0/8

    @property
    def enabled(self) -> bool:
        return self.target == "swarm"


SINGLE_HOST = Swarm(target="host", max_replicas_per_node=2, encrypted_network=False)


def read(r: Any) -> Swarm:
    """`r` is config._Reader; problems are collected on it."""
    swarm = Swarm(
        target=r.get("target", lambda v: checks.choice(v, TARGETS), "host"),
        max_replicas_per_node=r.get(
            "swarmMaxReplicasPerNode", lambda v: checks.integer(v, 0, 16), 2
        ),
        encrypted_network=r.get("swarmEncryptedNetwork", checks.boolean, False),
        nodes=r.get("swarmNodes", nodes, ()),
        address_pool=r.get("swarmAddressPool", address_pool, ""),
    )
    if not swarm.enabled:
        for key in ("swarmNodes", "swarmAddressPool"):
            if r.text(key):
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
    if r.text("tlsMode") == "acme":
        r.fail(
            "tlsMode",
            "'acme'",
            Invalid(
                "is not supported with ora:target swarm (certbot runs on one bootstrapped host)",
                "use provided (a certificate as a secret) or self-signed",
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


def _check_nodes(r: Any, found: tuple[SwarmNode, ...]) -> None:
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
