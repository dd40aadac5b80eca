"""Taking a node out of the swarm, as three scripts run in this order:

1. `drain_script`, on a manager: a manager node is demoted first (the Raft group shrinks
   while the node still answers), then drained; the script waits until no task of the
   node is meant to run there and every replicated service runs all its replicas
   elsewhere, so the node's work is done by the others before it goes;
2. `leave_script`, on the node itself: `docker swarm leave` (a worker by then);
3. `remove_script`, on a manager: once the manager sees the node down, `docker node rm`.

Each is idempotent: a node already drained, gone from the swarm or removed is left as
it is, so a failed update can be run again. The node is named by its swarm node ID (the
stack's swarmNodeIds output); the data node is refused here as in the config
(infra/bootstrap/swarm_changes.py): its stores' volumes are on it.
"""

from __future__ import annotations

from infra.bootstrap.swarm_scripts import DEFAULT_SOCKET, node_id, preamble
from infra.config.target import DATA_LABEL

DRAIN_TIMEOUT_SECONDS = 300  # the node's tasks start elsewhere: image pulls, healthchecks
DOWN_TIMEOUT_SECONDS = 120  # after `swarm leave`, the managers see the node down
POLL_SECONDS = 2

_FOUND = """node={node}
if ! docker node inspect "$node" >/dev/null 2>&1; then
  echo "node $node is not in the swarm: nothing to do"
  exit 0
fi
"""


def drain_script(node: str, data_node_allowed: bool = False, socket: str = DEFAULT_SOCKET) -> str:
    """On a manager: demotes the node if it is a manager, drains it, and waits until its
    tasks run elsewhere. Refuses a node labelled ora.data unless `data_node_allowed`."""
    node = node_id(node)
    guard = (
        ""
        if data_node_allowed
        else f"""labels=$(docker node inspect --format '{{{{json .Spec.Labels}}}}' "$node")
if [[ "$labels" == *'"{DATA_LABEL}":'* ]]; then
  echo "node $node holds {DATA_LABEL} (the Redis and Qdrant volumes): not drained" >&2
  exit 1
fi
"""
    )
    tries = DRAIN_TIMEOUT_SECONDS // POLL_SECONDS
    return (
        preamble(socket)
        + _FOUND.format(node=node)
        + guard
        + f"""shopt -s inherit_errexit  # a failed docker call fails the script, not the wait
if [ "$(docker node inspect --format '{{{{.Spec.Role}}}}' "$node")" = manager ]; then
  docker node demote "$node" >/dev/null
fi
docker node update --availability drain "$node" >/dev/null
busy() {{  # tasks still meant to run on the node; replicated services short elsewhere
  local svc want tasks have name
  docker node ps "$node" --filter desired-state=running --format '{{{{.Name}}}} on the node'
  for svc in $(docker service ls --filter mode=replicated --quiet); do
    want=$(docker service inspect --format '{{{{.Spec.Mode.Replicated.Replicas}}}}' "$svc")
    tasks=$(docker service ps --quiet --no-trunc --filter desired-state=running "$svc")
    have=0
    if [ -n "$tasks" ]; then
      # shellcheck disable=SC2086  # one argument per task ID
      have=$(docker inspect --type task --format '{{{{.NodeID}}}} {{{{.Status.State}}}}' $tasks |
        awk -v node="$node" '$1 != node && $2 == "running"' | wc -l)
    fi
    if [ "$have" -lt "$want" ]; then
      name=$(docker service inspect --format '{{{{.Spec.Name}}}}' "$svc")
      echo "$name: $have of $want running elsewhere"
    fi
  done
}}
tries=0
while :; do
  left=$(busy)
  if [ -z "$left" ]; then
    break
  fi
  tries=$((tries + 1))
  if [ "$tries" -gt {tries} ]; then
    echo "node $node: after {DRAIN_TIMEOUT_SECONDS} s, still:" >&2
    echo "$left" >&2
    exit 1
  fi
  sleep {POLL_SECONDS}
done
echo "node $node drained after $SECONDS s: its tasks run elsewhere"
"""
    )


def leave_script(socket: str = DEFAULT_SOCKET) -> str:
    """On the node: leaves the swarm unless it is out already."""
    return (
        preamble(socket)
        + """if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
  docker swarm leave >/dev/null
fi
echo "$(hostname) is out of the swarm"
"""
    )


def remove_script(node: str, socket: str = DEFAULT_SOCKET) -> str:
    """On a manager: waits until the node is down (it left), then removes it."""
    node = node_id(node)
    tries = DOWN_TIMEOUT_SECONDS // POLL_SECONDS
    return (
        preamble(socket)
        + _FOUND.format(node=node)
        + f"""tries=0
until [ "$(docker node inspect --format '{{{{.Status.State}}}}' "$node")" = down ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt {tries} ]; then
    echo "node $node is not down after {DOWN_TIMEOUT_SECONDS} s: did it leave the swarm?" >&2
    exit 1
  fi
  sleep {POLL_SECONDS}
done
docker node rm "$node" >/dev/null
echo "node $node removed from the swarm"
"""
    )
