"""What each deployment target (ora:target) can honour, as one table.

`SUPPORT` says, per target, which capability it has; `CAPABILITIES` says which keys ask
for each, and with what value. A key that asks the stack's target for a capability it
lacks is a problem naming the key, the value and the fix, built from these two tables:
nothing the target would silently ignore gets through.

Secrets are not asked about here (`offline` takes every secret as set). Two swarm rules
keep their own words in target.py, because they say what the key means there: an empty
ora:appImage (swarm nodes build nothing) and ora:bootstrapHost (it prepares one host).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from infra.config.checks import Invalid
from infra.config.reader import Reader
from infra.config.types import TARGETS


@dataclass(frozen=True)
class Ask:
    """A key whose value asks for a capability: `asks(value, default)`; `stop` says how
    to stop asking, with {file} for the stack file."""

    key: str
    asks: Callable[[str, str], bool]
    stop: str


@dataclass(frozen=True)
class Capability:
    name: str
    lacking: str  # completes "is not supported with ora:target T, which has no ..."
    asked_by: tuple[Ask, ...]


def _on(value: str, _default: str) -> bool:
    return value == "true"


def _set(value: str, _default: str) -> bool:
    return value != ""


def _changed(value: str, default: str) -> bool:
    return value != default


def switched_on(key: str) -> Ask:
    return Ask(key, _on, f"set ora:{key} false in {{file}}")


def filled(key: str) -> Ask:
    return Ask(key, _set, f"remove ora:{key} from {{file}}")


def changed(key: str) -> Ask:
    """A key that only tunes the capability: set to anything but its default, it asks."""
    return Ask(key, _changed, f"remove ora:{key} from {{file}}")


# Keys that only tune monitoring (Prometheus, Alertmanager, the alert emails, the report).
# ora:grafana is not one: its default is true, and false asks for nothing.
MONITORING_KEYS = (
    "alertThreshold",
    "alertLogFloorBytes",
    "alertErrorRate",
    "alertResponseTime",
    "alertQueueDepth",
    "alertDeadLetters",
    "alertJobFailureRate",
    "alertEmail",
    "prometheusRetention",
    "prometheusRetentionSize",
    "monitoringTiming",
    "runbookUrl",
    "smtpHost",
    "smtpPort",
    "smtpUser",
    "smtpCaCertificate",
)

CAPABILITIES = (
    Capability(
        "monitoring",
        "monitoring yet (Prometheus, Alertmanager, Grafana, the alert emails and report)",
        (switched_on("monitoring"), *(changed(key) for key in MONITORING_KEYS)),
    ),
    Capability(
        "rollback",
        "deploy history (the appHistory output) and no `make rollback` yet",
        (filled("appRollbackImage"), filled("appRollbackFrom")),
    ),
    Capability(
        "acme",
        "ACME client (certbot runs on one bootstrapped host)",
        (
            Ask(
                "tlsMode",
                lambda value, _default: value == "acme",
                "set ora:tlsMode provided (a certificate as a secret) or self-signed in {file}",
            ),
        ),
    ),
    Capability(
        "backups",
        "backups yet (the restic timer and its off-host copy run on a bootstrapped host)",
        (
            changed("backupSchedule"),
            filled("backupOffsiteRepository"),
            filled("backupOffsiteKnownHosts"),
        ),
    ),
    Capability(
        "host bootstrap",
        "host bootstrap (the login keys, users, firewall and timers of one prepared host)",
        (
            filled("deployPublicKey"),
            filled("ciPublicKey"),
            changed("bootstrapUser"),
            changed("backupTextfileDir"),
        ),
    ),
    Capability(
        "bind address",
        "bind address (nginx publishes its ports in host mode on every address of the"
        " ora.edge nodes)",
        (
            Ask(
                "bindAddress",
                lambda value, _default: value not in ("0.0.0.0", "::"),  # noqa: S104 - any address
                "remove ora:bindAddress from {file}",
            ),
        ),
    ),
)

SUPPORT: Mapping[str, Mapping[str, bool]] = {
    "host": {
        "monitoring": True,
        "rollback": True,
        "acme": True,
        "backups": True,
        "host bootstrap": True,
        "bind address": True,
    },
    "swarm": {
        "monitoring": True,
        "rollback": True,
        "acme": False,
        "backups": False,
        "host bootstrap": False,
        "bind address": False,
    },
}


def supported(target: str, capability: str) -> bool:
    return SUPPORT[target][capability]


def targets_with(capability: str) -> list[str]:
    return [target for target in TARGETS if supported(target, capability)]


def reason(target: str, capability: Capability) -> str:
    return f"is not supported with ora:target {target}, which has no {capability.lacking}"


def fix(target: str, stack: str, capability: Capability, ask: Ask) -> str:
    stop = ask.stop.format(file=f"Pulumi.{stack}.yaml")
    others = [t for t in targets_with(capability.name) if t != target]
    return f"{stop}, or use ora:target {' or '.join(others)}" if others else stop


def check(r: Reader, target: str, stack: str) -> None:
    """Records a problem for every key that asks `target` for a capability it lacks."""
    for capability in CAPABILITIES:
        if supported(target, capability.name):
            continue
        for ask in capability.asked_by:
            value = r.text(ask.key)
            if ask.asks(value, r.default(ask.key)):
                why = Invalid(reason(target, capability), fix(target, stack, capability, ask))
                r.fail(ask.key, repr(value), why)
