"""One-shot containers: run once per change, to completion, then stay exited.

Pulumi waits for the run (`attach`), keeps its logs (`logs`), and `revision(...)` fails
the update when the run did not exit 0, naming the container and quoting its output.
The services that depend on what a one-shot writes use that revision.

A one-shot's name ends with a fingerprint of everything it runs with (image, script,
uploads, mounts), so a change is a *new* container, created before the old run is
deleted. Never delete-before-replace: the engine would first delete every service whose
inputs come from the run's revision (its dependent replacements), and a run that then
failed would leave them down. A new run under a new name leaves them up until their own
replacement, in the order the program gives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import baseline
from infra.targets.host import containers

MEMORY_MB = 32
FINGERPRINT_LENGTH = 12
ROLE = "oneshot"  # the org.ora.role label: not a service, nothing to keep running


@dataclass(frozen=True)
class OneShot:
    stack: str
    service: str  # the org.ora.service label, e.g. "redis-secrets"
    image_id: pulumi.Input[str]
    script: str  # run by `sh -c`
    uploads: Sequence[docker.ContainerUploadArgs]
    volumes: Sequence[docker.ContainerVolumeArgs]
    cap_add: Sequence[str] = field(default_factory=lambda: ("CHOWN",))


def container(
    name: str,
    spec: OneShot,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    """Root inside, but with no network, every capability dropped except `cap_add`,
    no-new-privileges and small limits."""
    return docker.Container(
        name,
        name=pulumi.Output.concat(topology.prefix(spec.stack, spec.service), fingerprint(spec)),
        image=spec.image_id,
        user="0:0",
        entrypoints=["sh", "-c"],
        command=[spec.script],
        network_mode="none",
        uploads=list(spec.uploads),
        volumes=list(spec.volumes),
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=list(spec.cap_add)),
        security_opts=["no-new-privileges:true"],
        memory=MEMORY_MB,
        memory_swap=MEMORY_MB,
        ulimits=[docker.ContainerUlimitArgs(name="nproc", soft=64, hard=64)],
        log_driver="json-file",
        log_opts=dict(baseline.LOG_OPTS),
        labels=containers.labels(spec.service, spec.stack, role=ROLE),
        restart="no",
        attach=True,
        logs=True,
        must_run=False,
        opts=pulumi.ResourceOptions(
            parent=parent, delete_before_replace=False, depends_on=list(depends_on)
        ),
    )


def fingerprint(spec: OneShot) -> pulumi.Output[str]:
    """A digest of what the run is given. Not secret, though secrets go into it: a
    truncated SHA-256 of generated or configured secrets reveals none of them."""
    uploads = [
        pulumi.Output.all(u.file, u.content, u.content_base64, u.permissions, u.owner, u.group)
        for u in spec.uploads
    ]
    volumes = [
        pulumi.Output.all(v.volume_name, v.host_path, v.container_path, v.read_only)
        for v in spec.volumes
    ]
    parts = pulumi.Output.all(
        spec.image_id,
        spec.script,
        sorted(spec.cap_add),
        pulumi.Output.all(*uploads),
        pulumi.Output.all(*volumes),
    )
    return pulumi.Output.unsecret(parts.apply(_digest))


def _digest(parts: list) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def revision(run: docker.Container) -> pulumi.Output[str]:
    """The run's identity (12 characters of its container id); raises, failing the
    update, when the run exited non-zero."""
    return pulumi.Output.all(run.id, run.exit_code, run.container_logs).apply(
        lambda values: checked_revision(*values)
    )


def checked_revision(container_id: str | None, exit_code: int | None, logs: str | None) -> str:
    if exit_code not in (None, 0):
        tail = "\n".join((logs or "").strip().splitlines()[-20:]) or "(no output)"
        raise RuntimeError(
            f"the one-shot container {container_id} exited with {exit_code}; nothing it "
            f"would have installed was installed. Its output:\n{tail}\n"
            f"Fix the cause above, then run pulumi up again"
        )
    return (container_id or "")[:12]
