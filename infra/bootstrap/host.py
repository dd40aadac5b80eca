"""Host bootstrap over SSH (prod): Docker, the deploy user, /opt/ora, firewall, logrotate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from infra.bootstrap import backup_units
from infra.bootstrap import script as bootstrap
from infra.config import S3_SECRETS, StackConfig


@dataclass(frozen=True)
class HostArgs:
    config: StackConfig
    private_key: pulumi.Output | None
    backup_password: pulumi.Output


class Host(pulumi.ComponentResource):
    """Runs the idempotent bootstrap script; re-runs only when the script changes."""

    ready: command.remote.Command

    def __init__(self, name: str, args: HostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Host", name, None, opts)
        access = args.config.access
        script = bootstrap.sudo(access.bootstrap_user, bootstrap.script(args.config))
        connection = command.remote.ConnectionArgs(
            host=access.host,
            port=access.ssh_port,
            user=access.bootstrap_user,
            private_key=args.private_key,
            # Without a key in config, the operator's SSH agent is used.
        )
        self.connection = connection
        self.ready = command.remote.Command(
            f"{name}-bootstrap",
            connection=connection,
            create=script,
            triggers=[hashlib.sha256(script.encode()).hexdigest()],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The restic password travels on stdin: never on a command line or in a file here;
        # a changed one is rotated in the repository (restic key add/remove) by backup.sh.
        self.backup_password = command.remote.Command(
            f"{name}-backup-password",
            connection=connection,
            create=bootstrap.sudo_command(
                access.bootstrap_user, backup_units.password_file_command()
            ),
            stdin=args.backup_password,
            triggers=[args.backup_password],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ready]),
        )
        self.offsite_key = self._offsite_key(name, args)
        self.offsite_s3 = self._offsite_s3(name, args)
        self.register_outputs({"host": access.host, "bootstrap": self.ready.stdout})

    def _offsite_key(self, name: str, args: HostArgs) -> command.remote.Command | None:
        """The off-host SFTP repository's SSH key (ora:backupOffsiteSshKey), a Pulumi
        secret, written on the host as a root-only file from stdin; removed on delete."""
        key = args.config.secrets.get("backupOffsiteSshKey")
        if key is None:
            return None
        user, path = args.config.access.bootstrap_user, backup_units.OFFSITE_SSH_KEY_FILE
        secret = pulumi.Output.secret(key)
        return command.remote.Command(
            f"{name}-backup-offsite-key",
            connection=self.connection,
            create=bootstrap.sudo_command(user, backup_units.secret_file_command(path)),
            delete=bootstrap.sudo_command(user, f"rm -f {path}"),
            stdin=secret.apply(backup_units.with_newline),
            triggers=[secret],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ready]),
        )

    def _offsite_s3(self, name: str, args: HostArgs) -> command.remote.Command | None:
        """The off-host s3: repository's credentials (two Pulumi secrets), written on the
        host from stdin as the root-only backup.env that backup.sh reads; removed on delete."""
        keys = [args.config.secrets.get(k) for k in S3_SECRETS]
        if None in keys or not args.config.backup_offsite_repository.startswith("s3:"):
            return None
        user, path = args.config.access.bootstrap_user, backup_units.CREDENTIALS_FILE
        secret = pulumi.Output.secret(pulumi.Output.all(*keys))
        return command.remote.Command(
            f"{name}-backup-offsite-s3",
            connection=self.connection,
            create=bootstrap.sudo_command(user, backup_units.secret_file_command(path)),
            delete=bootstrap.sudo_command(user, f"rm -f {path}"),
            stdin=secret.apply(lambda values: backup_units.s3_credentials(*values)),
            triggers=[secret],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ready]),
        )
