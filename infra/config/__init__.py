"""One typed, validated view of a stack's configuration, read once.

`parse` is pure: it takes the raw strings of a stack (Pulumi.yaml defaults plus
the stack's overrides) and returns a frozen `StackConfig`, or raises
`ConfigError` listing every problem, each naming the key, the value and the
fix. `load` is the thin Pulumi-facing wrapper that gathers the raw strings and
turns the secrets into secret Outputs; components never read pulumi.Config.
`offline` reads a stack from its file alone, for tools that run without the engine.

The package, one job a module: types (the sections' dataclasses, Problem, ConfigError),
reader (the `Reader` type section readers take) and raw (the one `parse` uses), checks
(value checks), sections, monitoring and target (the section readers), rules,
certificates, apikeys and capabilities (rules across sections), offsite (the backup
copy's checks), schema (Pulumi.yaml and the stack files) and docs (the README's table).
They import one another and infra.topology only, two floors deep, so that everything
importing this package stays low in the import graph (tests/unit/test_layout.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from infra.config import apikeys, capabilities, certificates, checks, offsite, rules, schema
from infra.config import monitoring as monitoring_section
from infra.config import target as target_section
from infra.config.raw import RawReader
from infra.config.reader import Reader
from infra.config.rules import (
    CORE_SECRETS,
    MIN_LENGTH,
    MIN_SECRET_LENGTH,
    PREVIEWED_STACKS,
    S3_SECRETS,
)
from infra.config.schema import known_stacks, read_stack_file
from infra.config.sections import (
    LOG_LEVELS,
    MEMORY_FLOORS,
    TLS_MODES,
    read_access,
    read_edge,
    read_images,
    read_service,
    read_sizes,
)
from infra.config.types import (
    ConfigError,
    Edge,
    HostAccess,
    Images,
    Monitoring,
    Problem,
    Service,
    Sizes,
    StackConfig,
    Swarm,
    SwarmNode,
)

__all__ = [
    "CORE_SECRETS",
    "LOG_LEVELS",
    "MEMORY_FLOORS",
    "MIN_LENGTH",
    "MIN_SECRET_LENGTH",
    "PREVIEWED_STACKS",
    "S3_SECRETS",
    "TLS_MODES",
    "ConfigError",
    "Edge",
    "HostAccess",
    "Images",
    "Monitoring",
    "Problem",
    "Reader",
    "Service",
    "Sizes",
    "StackConfig",
    "Swarm",
    "SwarmNode",
    "apikeys",
    "capabilities",
    "checks",
    "known_stacks",
    "load",
    "offline",
    "parse",
    "read_stack_file",
    "schema",
]


def parse(
    stack: str,
    raw: Mapping[str, str],
    secrets_set: frozenset[str] = frozenset(),
    pem: Mapping[str, str] | None = None,
    api_keys: str | None = None,
    secret_lengths: Mapping[str, int] | None = None,
    plaintext_secrets: frozenset[str] = frozenset(),
    now: dt.datetime | None = None,
    project: str = schema.NAMESPACE,
    verify_certificate: bool = True,
) -> StackConfig:
    """Builds the StackConfig of `stack` from raw config strings, or raises ConfigError."""
    r = RawReader(raw, schema.defaults())
    rules.reject_unknown_keys(r, raw, schema.keys())
    access = read_access(r, stack)
    edge = read_edge(r)
    config = StackConfig(
        project=project,
        stack=stack,
        access=access,
        edge=edge,
        images=read_images(r, access),
        sizes=read_sizes(r),
        service=(service := read_service(r)),
        monitoring=monitoring_section.read(r, service.smtp_host),
        generate_secrets=r.get("generateSecrets", checks.boolean, True),
        backup_schedule=r.get("backupSchedule", checks.on_calendar, "*-*-* 03:17:00"),
        backup_textfile_dir=r.get("backupTextfileDir", checks.absolute_path, ""),
        backup_offsite_repository=r.get(
            "backupOffsiteRepository", offsite.restic_repository, "", offsite.without_password
        ),
        backup_offsite_known_hosts=r.get("backupOffsiteKnownHosts", offsite.known_hosts, ""),
        secrets_set=secrets_set,
        swarm=target_section.read(r),
    )
    capabilities.check(r, config.swarm.target, stack)
    rules.check_secrets(r, config, secret_lengths or {}, plaintext_secrets)
    if api_keys is not None:
        apikeys.check(r, api_keys)
    if verify_certificate:
        certificates.check_provided(r, config, pem or {}, now or dt.datetime.now(dt.UTC))
    if r.problems:
        raise ConfigError(stack, r.problems)
    return config


def offline(stack: str, overrides: dict[str, str] | None = None) -> StackConfig:
    """A stack's config from its file alone (plus plain `overrides`, as `pulumi up
    --config` would set them), for rendering and review without the engine.

    Secrets are taken as set (rendered files never contain them) and a provided
    certificate is not inspected; `pulumi preview` still validates both.
    """
    raw, secure = read_stack_file(stack)
    raw = {**raw, **(overrides or {})}
    # sshPrivateKey only if the file has it: in a previewed stack, being set is the error.
    assumed = frozenset(schema.secret_keys()) - {"sshPrivateKey"}
    return parse(
        stack, raw, secrets_set=assumed | (secure & {"sshPrivateKey"}), verify_certificate=False
    )


def load() -> StackConfig:
    """Reads the running stack's configuration once (Pulumi engine or mocks)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{schema.NAMESPACE}:"
    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw_all = {k[len(prefix) :]: str(v) for k, v in every.items() if k.startswith(prefix)}
    secret_names = set(schema.secret_keys())
    raw = {k: v for k, v in raw_all.items() if k not in secret_names}
    set_secrets = frozenset(k for k in secret_names if raw_all.get(k))
    plaintext = frozenset(k for k in set_secrets if not runtime_config.is_config_secret(prefix + k))
    config = parse(
        stack=pulumi.get_stack(),
        raw=raw,
        secrets_set=set_secrets,
        # Plain values are inspected in memory for validation only, never logged or exported.
        pem={k: raw_all[k] for k in certificates.PEM_KEYS if k in set_secrets},
        api_keys=raw_all.get("apiKeys") if "apiKeys" in set_secrets else None,
        secret_lengths={k: len(raw_all[k]) for k in set_secrets},
        plaintext_secrets=plaintext,
        project=pulumi.get_project(),
    )
    pulumi_config = pulumi.Config(schema.NAMESPACE)
    secrets = {key: pulumi_config.require_secret(key) for key in sorted(set_secrets)}
    return dataclasses.replace(config, secrets=secrets)
