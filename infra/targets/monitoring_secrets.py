"""The secret files monitoring's services read, for both targets: file name (infra/monitoring/
specs.py, runtime.py) -> secret Output. The host target writes them into each service's
secrets volume, the swarm target makes each a Swarm secret; both mount them at
/run/secrets, mode 0400, owned by the service's user."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from infra.config import StackConfig
from infra.monitoring.runtime import (
    GRAFANA_PASSWORD_FILE,
    QDRANT_KEY_FILE,
    REDIS_PASSWORDS_FILE,
    SMTP_PASSWORD_FILE,
    redis_passwords,
)


@dataclass(frozen=True)
class MonitoringSecrets:
    files: dict[str, pulumi.Output]
    grafana_password: pulumi.Output | None  # only when generated (dev), for the export


def secret_files(
    name: str,
    config: StackConfig,
    secrets: Mapping[str, pulumi.Output],
    redis_exporter_password: pulumi.Input[str],
    parent: pulumi.Resource,
) -> MonitoringSecrets:
    """Generates Grafana's admin password (as `NAME-grafana-admin-password`, a child of
    `parent`) when the config allows it to be unset (generateSecrets)."""
    empty = pulumi.Output.secret("")
    redis = pulumi.Output.from_input(redis_exporter_password).apply(redis_passwords)
    files = {
        QDRANT_KEY_FILE: secrets.get("qdrantApiKey", empty),
        REDIS_PASSWORDS_FILE: pulumi.Output.secret(redis),
    }
    if "smtpPassword" in secrets:
        # Alertmanager reads the password file verbatim: no trailing newline.
        smtp = secrets["smtpPassword"].apply(lambda v: (v or "").rstrip("\r\n"))
        files[SMTP_PASSWORD_FILE] = pulumi.Output.secret(smtp)
    generated_password = None
    if config.monitoring.grafana:
        password = secrets.get("grafanaAdminPassword")
        if password is None:  # config allows this only with generateSecrets (dev)
            generated = random.RandomPassword(
                f"{name}-grafana-admin-password",
                length=32,
                special=False,
                opts=pulumi.ResourceOptions(parent=parent),
            )
            password = generated.result
            generated_password = pulumi.Output.secret(password)
        files[GRAFANA_PASSWORD_FILE] = pulumi.Output.secret(password)
    return MonitoringSecrets(files, generated_password)


def exporter_password(name: str, parent: pulumi.Resource) -> pulumi.Output:
    """A store's exporter user's password (services/store.py: MonitoringUser), generated
    as `NAME-exporter-password`, a child of the store's component."""
    generated = random.RandomPassword(
        f"{name}-exporter-password",
        length=40,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(generated.result)
