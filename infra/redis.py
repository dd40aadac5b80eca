"""Redis: cache and job queues, on the internal network only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import hardening, images

UID = "999"  # the redis user of the official image
CONF_DIR = "/usr/local/etc/redis"
CONF = f"{CONF_DIR}/redis.conf"
ALIAS = "redis"
PORT = 6379


def redis_conf(maxmemory_mb: int) -> str:
    """redis.conf without the password line. Queue keys never carry a TTL and
    `volatile-lru` only evicts keys that do (the cache), so jobs are never
    evicted: when memory is full of them, writes fail loudly instead."""
    return "\n".join(
        [
            "bind 0.0.0.0",
            "protected-mode yes",
            f"port {PORT}",
            "dir /data",
            "appendonly yes",
            "appendfsync everysec",
            "aof-use-rdb-preamble yes",
            "save 900 1",
            "save 300 100",
            "save 60 10000",
            f"maxmemory {maxmemory_mb}mb",
            "maxmemory-policy volatile-lru",
            "rename-command FLUSHALL ''",
            "rename-command DEBUG ''",
            "",
        ]
    )


def maxmemory_for(limit_mb: int) -> int:
    """75 % of the container limit: room for AOF rewrites and fork copy-on-write."""
    return max(16, limit_mb * 3 // 4)


# The password is read from the config file inside the shell, so it is never
# part of a command line (`ps`) or of the container's environment.
HEALTHCHECK = hardening.Healthcheck(
    test=[
        "CMD-SHELL",
        f"REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' {CONF})\" redis-cli ping | grep -q PONG",
    ]
)


@dataclass(frozen=True)
class RedisArgs:
    stack: str
    image: str
    memory_mb: int
    password: pulumi.Output
    network: docker.Network
    volume: docker.Volume


class Redis(pulumi.ComponentResource):
    container: docker.Container

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Redis", name, None, opts)
        image = images.pinned(f"{name}-image", args.image, self)
        conf = pulumi.Output.secret(args.password).apply(
            lambda password: redis_conf(maxmemory_for(args.memory_mb)) + f"requirepass {password}\n"
        )
        spec = hardening.Baseline(
            service="redis", stack=args.stack, memory_mb=args.memory_mb, healthcheck=HEALTHCHECK
        )
        self.container = docker.Container(
            f"{name}-container",
            name=f"ora-{args.stack}-redis",
            image=image.image_id,
            command=["redis-server", CONF],
            user=f"{UID}:{UID}",
            uploads=[hardening.upload(CONF, conf, mode=0o400, owner=UID)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.network.name, aliases=[ALIAS])
            ],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=args.volume.name, container_path="/data"),
                hardening.config_dir(CONF_DIR),
            ],
            **hardening.container_args(spec),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"container": self.container.name, "image": args.image})
