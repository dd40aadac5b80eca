"""Forming a swarm as shell scripts: pure functions of the nodes' config.

Each script talks to one node's Docker engine through its unix socket (the Docker CLI,
or curl against the Engine API) and is idempotent: a node already in the swarm is left
as it is. A join token never appears on a command line, where any user of the node can
read it in the process list: `docker swarm join --token` is not used; the join request's
JSON body (`join_body`) arrives on stdin and curl posts it to the engine as read. Nor
is one printed: `swarm init`'s join command goes to /dev/null, and only the token script
prints a token, which its caller keeps secret and unlogged (infra/bootstrap/swarm.py).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable

from infra.config.target import NODE_LABELS

DEFAULT_SOCKET = "/var/run/docker.sock"
SWARM_PORT = 2377
API_VERSION = "v1.41"  # Docker 20.10 (Debian's docker.io) and every engine since
NODE_ID = re.compile(r"^[a-z0-9]{25}$")
_TOKEN = re.compile(r"^SWMTKN-1-[a-z0-9]+-[a-z0-9]+$")


def preamble(socket: str) -> str:
    """Every script: strict mode and the engine's socket."""
    return f"""set -euo pipefail
sock={shlex.quote(socket)}
command -v docker >/dev/null || {{ echo "docker is missing on $(hostname)" >&2; exit 1; }}
docker() {{ command docker -H "unix://$sock" "$@"; }}
"""


_STATE_LINE = "state=$(docker info --format '{{.Swarm.LocalNodeState}}')\n"


_NODE_ID_LINE = "docker info --format '{{.Swarm.NodeID}}'\n"


def init_script(advertise: str, address_pool: str = "", socket: str = DEFAULT_SOCKET) -> str:
    """swarm init on the first manager unless it is in a swarm already; prints its node ID."""
    pool = f" --default-addr-pool {shlex.quote(address_pool)}" if address_pool else ""
    addr = shlex.quote(advertise)
    return (
        preamble(socket)
        + _STATE_LINE
        + f"""if [ "$state" = active ]; then
  [ "$(docker info --format '{{{{.Swarm.ControlAvailable}}}}')" = true ] || {{
    echo "$(hostname) is in a swarm but not a manager: it cannot be the first manager" >&2
    exit 1
  }}
else
  # swarm init prints the worker's join command, token included: never shown or kept.
  docker swarm init --advertise-addr {addr} --listen-addr {addr}:{SWARM_PORT}{pool} >/dev/null
fi
"""
        + _NODE_ID_LINE
    )


def token_script(role: str, socket: str = DEFAULT_SOCKET) -> str:
    """Prints the join token of `role` (manager|worker): output the caller keeps secret."""
    if role not in ("manager", "worker"):
        raise ValueError(f"no join token for role {role!r}")
    return preamble(socket) + f"docker swarm join-token -q {role}\n"


def join_body(token: str, manager: str, advertise: str) -> str:
    """The Engine API's POST /swarm/join body; the join script reads it on stdin."""
    token = token.strip()
    if not _TOKEN.match(token):
        raise ValueError("the manager did not print a swarm join token (SWMTKN-1-…)")
    return json.dumps(
        {
            "ListenAddr": f"{advertise}:{SWARM_PORT}",
            "AdvertiseAddr": advertise,
            "RemoteAddrs": [f"{manager}:{SWARM_PORT}"],
            "JoinToken": token,
        }
    )


def join_script(socket: str = DEFAULT_SOCKET) -> str:
    """Joins the node with the body on stdin unless it is in a swarm; prints its node ID."""
    return (
        preamble(socket)
        + _STATE_LINE
        + f"""if [ "$state" != active ]; then
  command -v curl >/dev/null || {{ echo "curl is missing on $(hostname)" >&2; exit 1; }}
  code=$(curl -sS --unix-socket "$sock" -H 'Content-Type: application/json' \\
    --data-binary @- -o /dev/stderr -w '%{{http_code}}' http://localhost/{API_VERSION}/swarm/join)
  [ "$code" = 200 ] || {{ echo " (swarm join: HTTP $code)" >&2; exit 1; }}
fi
"""
        + _NODE_ID_LINE
    )


def node_id(text: str) -> str:
    """A swarm node ID as a script may take it; raises on anything else."""
    found = text.strip()
    if not NODE_ID.match(found):
        raise ValueError(f"{found!r} is not a swarm node ID")
    return found


def label_script(
    node: str, labels: Iterable[str], role: str | None = None, socket: str = DEFAULT_SOCKET
) -> str:
    """On a manager: sets the node's ora.* labels to exactly `labels` (each =true), and
    with `role` promotes or demotes it to that role (ora:swarmNodes' ROLE)."""
    node = node_id(node)
    wanted = set(labels)
    if wanted - set(NODE_LABELS):
        raise ValueError(f"unknown node labels: {sorted(wanted - set(NODE_LABELS))}")
    if role not in (None, "manager", "worker"):
        raise ValueError(f"no swarm role {role!r}")
    steps = [
        f"node={node}\n",
        "labels=$(docker node inspect --format '{{json .Spec.Labels}}' \"$node\")\n",
    ]
    if role:
        # A changed role: promote or demote (a demoted manager leaves the Raft group).
        steps.append(
            "role=$(docker node inspect --format '{{.Spec.Role}}' \"$node\")\n"
            f'[ "$role" = {role} ] || docker node update --role {role} "$node" >/dev/null\n'
        )
    for label in NODE_LABELS:
        if label in wanted:
            steps.append(f'docker node update --label-add {label}=true "$node" >/dev/null\n')
        else:
            # --label-rm of a label the node lacks is an error: only when it has it.
            steps.append(
                f'if [[ "$labels" == *\'"{label}":\'* ]]; then\n'
                f'  docker node update --label-rm {label} "$node" >/dev/null\nfi\n'
            )
    return preamble(socket) + "".join(steps) + 'echo "$node"\n'


def in_bash(script: str) -> str:
    """The command line that runs `script` in bash whatever the login shell; its stdin
    is the script's. The scripts hold no secret, so argv may show them."""
    return f"bash -c {shlex.quote(script)}"
