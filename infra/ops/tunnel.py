"""`make tunnel`: local ports forwarded over SSH to Prometheus, Alertmanager and Grafana.

They publish no port and listen on the monitoring network only; the Docker host reaches
their addresses on that network's bridge, so `ssh -L` through the deploy user reaches them.
python -m infra.ops.tunnel STACK [--print]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from infra import topology
from infra.config import StackConfig, offline
from infra.monitoring.render import GRAFANA_TUNNEL_PORT
from infra.ops import commands as ops

# service -> (local port, container port)
FORWARDS = {
    "prometheus": (9090, 9090),
    "alertmanager": (9093, 9093),
    "grafana": (GRAFANA_TUNNEL_PORT, 3000),
}


def address_query(cfg: StackConfig, service: str) -> list[str]:
    network = topology.name(cfg.stack, "monitoring")
    template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    return ["docker", "inspect", "--format", template, topology.name(cfg.stack, service)]


def ssh_command(cfg: StackConfig, addresses: dict[str, str]) -> list[str]:
    """`ssh -N` with one -L per service found; local ports bind 127.0.0.1 only."""
    access = cfg.access
    command = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-p", str(access.ssh_port)]
    for service, address in sorted(addresses.items()):
        local, remote = FORWARDS[service]
        command += ["-L", f"127.0.0.1:{local}:{address}:{remote}"]
    return [*command, f"{access.ssh_user}@{access.host}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.tunnel")
    parser.add_argument("stack")
    parser.add_argument("--print", action="store_true", help="print the ssh command only")
    args = parser.parse_args(argv)
    cfg = offline(args.stack)
    if not cfg.access.is_remote:
        sys.exit(f"stack {cfg.stack!r} runs on the local engine: no tunnel needed")
    env = {**os.environ, **ops.docker_env(cfg)}
    addresses = {}
    for service in FORWARDS:
        found = subprocess.run(address_query(cfg, service), env=env, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            addresses[service] = found.stdout.strip()
    if not addresses:
        sys.exit(f"no monitoring container of stack {cfg.stack!r} (is ora:monitoring on?)")
    command = ssh_command(cfg, addresses)
    for service in sorted(addresses):
        print(f"{service}: http://127.0.0.1:{FORWARDS[service][0]}/", file=sys.stderr)
    if args.print:
        print(" ".join(command))
        return 0
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
