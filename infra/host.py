"""Host bootstrap over SSH (prod): Docker, the deploy user, /opt/ora, firewall, logrotate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from infra import bootstrap
from infra.config import Target


@dataclass(frozen=True)
class HostArgs:
    target: Target
    bootstrap_user: str
    private_key: pulumi.Output | None


class Host(pulumi.ComponentResource):
    """Runs the idempotent bootstrap script; re-runs only when the script changes."""

    ready: command.remote.Command

    def __init__(self, name: str, args: HostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Host", name, None, opts)
        script = bootstrap.sudo(args.bootstrap_user, bootstrap.script(args.target))
        connection = command.remote.ConnectionArgs(
            host=args.target.host,
            port=args.target.ssh_port,
            user=args.bootstrap_user,
            private_key=args.private_key,
            # Without a key in config, the operator's SSH agent is used.
        )
        self.ready = command.remote.Command(
            f"{name}-bootstrap",
            connection=connection,
            create=script,
            triggers=[hashlib.sha256(script.encode()).hexdigest()],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"host": args.target.host, "bootstrap": self.ready.stdout})
