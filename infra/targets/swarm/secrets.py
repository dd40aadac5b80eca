"""Secrets and configs of the swarm target: Swarm's own objects, mounted as files.

A Swarm secret is immutable and its name is unique, so a changed value needs a new
name: a random suffix kept in state (`pulumi_random.RandomId`, renewed when the value
changes) makes Pulumi create the new secret, roll the services onto it, then delete
the old one. No hash of the value ever appears in a name. Configs (non-secret files,
e.g. the rendered nginx files) are named by a hash of their content.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from infra import topology


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(
    name: str, stack: str, file: str, value: pulumi.Input[str], parent: pulumi.Resource
) -> docker.Secret:
    """Swarm secret `file` of the stack, holding `value` (a secret Output)."""
    child = pulumi.ResourceOptions(parent=parent)
    value = pulumi.Output.secret(value)
    suffix = random.RandomId(f"{name}-id", byte_length=4, keepers={"value": value}, opts=child)
    return docker.Secret(
        name,
        name=pulumi.Output.concat(topology.prefix(stack, file), suffix.hex),
        data=pulumi.Output.secret(value.apply(_b64)),
        labels=[docker.SecretLabelArgs(label=topology.STACK_LABEL, value=stack)],
        opts=child,
    )


def mount(
    found: docker.Secret, file: str, owner: str, mode: int = 0o400
) -> docker.ServiceTaskSpecContainerSpecSecretArgs:
    """The service reads it at /run/secrets/FILE (secret_files.path), as on the host target."""
    uid, _, gid = owner.partition(":")
    return docker.ServiceTaskSpecContainerSpecSecretArgs(
        secret_id=found.id,
        secret_name=found.name,
        file_name=file,
        file_uid=uid,
        file_gid=gid or uid,
        file_mode=mode,
    )


def content_tag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def config(
    name: str, stack: str, text: str, parent: pulumi.Resource
) -> tuple[docker.ServiceConfig, str]:
    """A Swarm config holding `text` (plain), named by its content."""
    tag = content_tag(text)
    found = docker.ServiceConfig(
        name,
        name=topology.name(stack, name, tag),
        data=_b64(text),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return found, tag


def config_of_output(
    name: str, stack: str, text: pulumi.Output, parent: pulumi.Resource
) -> docker.ServiceConfig:
    """A Swarm config holding a text known only at deploy time (a generated CA)."""
    return docker.ServiceConfig(
        name,
        name=text.apply(lambda t: topology.name(stack, name, content_tag(t))),
        data=text.apply(_b64),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def config_name(path: str) -> str:
    """A file's path as part of a resource or config name."""
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", path)


def config_mount(
    found: docker.ServiceConfig, path: str
) -> docker.ServiceTaskSpecContainerSpecConfigArgs:
    return docker.ServiceTaskSpecContainerSpecConfigArgs(
        config_id=found.id,
        config_name=found.name,
        file_name=path,
        file_uid="0",
        file_gid="0",
        file_mode=0o444,
    )
