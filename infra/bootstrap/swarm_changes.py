"""What a deploy changes in the swarm's membership: the nodes the last deploy formed (the
stack's own `swarmNodes` and `swarmNodeIds` outputs, read back as infra/deploys.py reads
appHistory) against ora:swarmNodes. Pure: infra/bootstrap/swarm.py runs what it plans.

- A node the config no longer lists is removed (infra/bootstrap/swarm_removal.py).
- A changed role or label is applied to the node in place (the label script).
- The data node (ora.data) keeps Redis's and Qdrant's volumes: moving the label, or
  removing the node that has it, is refused unless ora:swarmDataNodeMoved says the
  operator restored the stores on the new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.config.target import DATA_LABEL, SwarmNode

OUTPUT = "swarmNodes"  # the nodes as formed: [{"host", "role", "labels"}]


@dataclass(frozen=True)
class Removal:
    host: str
    node_id: str
    was_data_node: bool


class DataNodeChange(ValueError):
    """Raised while the program runs, so the update stops before a command runs."""


def formed(nodes: Sequence[SwarmNode]) -> list[dict]:
    """The `swarmNodes` output of this deploy."""
    return [{"host": n.host, "role": n.role, "labels": list(n.labels)} for n in nodes]


def removals(
    previous: Sequence[Mapping] | None,
    previous_ids: Mapping[str, str] | None,
    nodes: Sequence[SwarmNode],
    data_node_moved: bool,
) -> tuple[Removal, ...]:
    """The nodes to take out of the swarm, in the order they were listed; raises
    DataNodeChange when the data node changes without ora:swarmDataNodeMoved."""
    before = [entry for entry in previous or () if isinstance(entry, Mapping)]
    _check_data_node(before, nodes, data_node_moved)
    listed = {n.host for n in nodes}
    return tuple(
        Removal(
            host=entry["host"],
            node_id=(previous_ids or {})[entry["host"]],
            was_data_node=DATA_LABEL in entry.get("labels", ()),
        )
        for entry in before
        if entry["host"] not in listed and entry["host"] in (previous_ids or {})
    )


def _check_data_node(before: list[Mapping], nodes: Sequence[SwarmNode], moved: bool) -> None:
    was = [e["host"] for e in before if DATA_LABEL in e.get("labels", ())]
    now = [n.host for n in nodes if DATA_LABEL in n.labels]
    if not was or was == now or moved:
        return
    old, new = was[0], now[0] if now else "no node"
    change = "removes it" if old not in {n.host for n in nodes} else f"labels {new} instead"
    raise DataNodeChange(
        f"ora:swarmNodes: the last deploy kept Redis and Qdrant on {old} ({DATA_LABEL}), "
        f"and this config {change}; their volumes do not follow the label. Fix: keep {old} "
        f"{DATA_LABEL}; or restore the stores on {new} from the off-host backup (README, "
        "swarm section), then deploy once with `pulumi config set ora:swarmDataNodeMoved "
        "true` and unset it after."
    )
