"""The Ora service on the swarm target: N web replicas spread over the nodes, one worker.

A new image or new secrets roll the replicas one at a time, start-first: the new task
must pass its healthcheck before the old one stops, and a task that fails it within
the monitor window rolls the whole update back. nginx re-resolves `app` (dnsrr: the
tasks' own addresses) and retries a request on another replica meanwhile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import topology
from infra.services import app, baseline
from infra.targets.swarm import secrets as swarm_secrets
from infra.targets.swarm import service as swarm_service
from infra.targets.swarm import spec as swarm_spec


@dataclass(frozen=True)
class SwarmAppArgs:
    stack: str
    image: str  # a registry reference: swarm nodes build nothing
    replicas: int
    max_replicas_per_node: int
    memory_mb: int
    worker_memory_mb: int
    settings: app.AppSettings
    secrets: Mapping[str, pulumi.Output]  # the stack's secrets that are set, by config key
    api_key_hashes: pulumi.Output
    edge: docker.Network
    internal: docker.Network
    depends_on: list[pulumi.Resource]


def _revision(names: list[str]) -> str:
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:12]


class SwarmApp(pulumi.ComponentResource):
    web: docker.Service
    worker: docker.Service
    secrets: dict[str, docker.Secret]

    def __init__(self, name: str, args: SwarmAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:SwarmApp", name, None, opts)
        self._args = args
        owner = f"{app.UID}:{app.UID}"
        contents = app.secret_file_contents(args.secrets, args.api_key_hashes)
        self.secrets = {
            file: swarm_secrets.secret(f"{name}-{file}", args.stack, file, value, self)
            for file, value in sorted(contents.items())
        }
        self._mounts = [swarm_secrets.mount(s, file, owner) for file, s in self.secrets.items()]
        self._revision = pulumi.Output.all(*[s.name for s in self.secrets.values()]).apply(
            _revision
        )
        self._env = [
            *app.plain_env(args.settings),
            *app.secret_env(frozenset(args.secrets)),
            app.LOG_DIR_ENV,  # on each node's app-logs volume
        ]
        self.web = self._service(
            f"{name}-web",
            "app",
            args.memory_mb,
            app.WEB_HEALTHCHECK,
            command=None,
            aliases=((app.ALIAS,), (app.ALIAS,)),
            replicas=args.replicas,
            max_per_node=args.max_replicas_per_node,
        )
        self.worker = self._service(
            f"{name}-worker",
            "worker",
            args.worker_memory_mb,
            app.WORKER_HEALTHCHECK,
            command=app.WORKER_COMMAND,
            aliases=((), (app.WORKER_ALIAS,)),
            replicas=1,
            max_per_node=0,
        )
        self.register_outputs(
            {"web": self.web.name, "worker": self.worker.name, "image": args.image}
        )

    def _service(
        self, resource_name, service, memory_mb, check, *, command, aliases, replicas, max_per_node
    ) -> docker.Service:
        args = self._args
        spec = baseline.Baseline(
            service=service,
            stack=args.stack,
            memory_mb=memory_mb,
            healthcheck=check,
            secrets_revision=self._revision,
        )
        task = swarm_spec.Task(
            image=args.image,
            user=f"{app.UID}:{app.UID}",
            args=command,
            env=self._env,
            # (on edge, on internal): only the web replicas carry the alias nginx
            # resolves; on internal, Prometheus finds the replicas and the worker by name.
            networks=[(args.edge.id, list(aliases[0])), (args.internal.id, list(aliases[1]))],
            volumes=[
                (topology.name(args.stack, "app-data"), app.DATA_DIR, False),
                (topology.name(args.stack, "static"), app.STATIC_DIR, False),
                (topology.name(args.stack, "app-logs"), app.LOGS_DIR, False),
            ],
            secrets=self._mounts,
            replicas=replicas,
            max_replicas_per_node=max_per_node,
        )
        return swarm_service.declare(resource_name, spec, task, self, args.depends_on)
