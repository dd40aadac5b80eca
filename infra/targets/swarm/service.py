"""Declares one Swarm service of the stack: `ora-STACK-SERVICE`, from the hardening
baseline and its task (infra/targets/swarm/spec.py), as a child of its component. The one place
the swarm components create a `docker.Service`."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import baseline
from infra.targets.swarm import spec as swarm_spec


def declare(
    resource_name: str,
    spec: baseline.Baseline,
    task: swarm_spec.Task,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> docker.Service:
    return docker.Service(
        resource_name,
        name=topology.name(spec.stack, spec.service),
        **swarm_spec.service_args(spec, task),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
