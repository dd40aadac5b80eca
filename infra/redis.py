"""Redis: cache and job queues, on the internal network (and `monitoring`, for its
exporter's INFO-only user: infra/redis_acl.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from infra import hardening, images, redis_acl, secret_files, topology

UID = "999"  # the redis user of the official image
ALIAS = topology.REDIS.host
PORT = topology.REDIS.port
AUTH_FILE = "/tmp/redis-auth.conf"
PASSWORD_FILE = secret_files.path("redis-password")
USERS_FILE = secret_files.path(redis_acl.USERS_FILE)


def launch_script(
    password_file: str = PASSWORD_FILE, users_file: str = USERS_FILE, auth_file: str = AUTH_FILE
) -> str:
    """The password reaches the server through a 0600 config file on tmpfs, written at
    start from its secret file: never in the container's environment (`docker inspect`)
    nor on a command line (`ps`: printf is a shell builtin). The other ACL users
    (infra/redis_acl.py), when their file is there, follow it."""
    return (
        f'umask 077; password="$(cat {password_file})" && [ -n "$password" ] '
        f'|| {{ echo "redis: no password in {password_file}" >&2; exit 1; }}; '
        f'printf "requirepass %s\\n" "$password" > {auth_file}; unset password; '
        f"if [ -e {users_file} ]; then cat {users_file} >> {auth_file} || exit 1; fi; "
        f'exec redis-server {auth_file} "$@"'
    )


LAUNCH = launch_script()
# redis-cli takes the password from REDISCLI_AUTH, set for that one process only.
CLI_AUTH = f'REDISCLI_AUTH="$(cat {PASSWORD_FILE})"'


def redis_args(maxmemory_mb: int) -> list[str]:
    """Server settings as arguments. Queue keys never carry a TTL and
    `volatile-lru` only evicts keys that do (the cache), so jobs are never
    evicted: when memory is full of them, writes fail loudly instead."""
    settings = [
        ("bind", "0.0.0.0"),  # noqa: S104 - reachable only on the internal network
        ("protected-mode", "yes"),
        ("port", str(PORT)),
        ("dir", "/data"),
        ("appendonly", "yes"),
        ("appendfsync", "everysec"),
        ("aof-use-rdb-preamble", "yes"),
        ("save", "900 1 300 100 60 10000"),
        ("maxmemory", f"{maxmemory_mb}mb"),
        ("maxmemory-policy", "volatile-lru"),
    ]
    return [arg for key, value in settings for arg in (f"--{key}", value)]


def maxmemory_for(limit_mb: int) -> int:
    """75 % of the container limit: room for AOF rewrites and fork copy-on-write."""
    return max(16, limit_mb * 3 // 4)


HEALTHCHECK = hardening.Healthcheck(test=["CMD-SHELL", f"{CLI_AUTH} redis-cli ping | grep -q PONG"])


@dataclass(frozen=True)
class RedisArgs:
    stack: str
    image: str
    memory_mb: int
    password: pulumi.Output
    network: docker.Network
    volume: docker.Volume
    secrets_volume: docker.Volume
    # ora:monitoring: Redis also joins its network, with a user for the exporter alone.
    monitoring: docker.Network | None = None


class Redis(pulumi.ComponentResource):
    container: docker.Container
    secrets_writer: docker.Container
    exporter_password: pulumi.Output | None  # redis_acl.EXPORTER_USER's, with monitoring

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ora:infra:Redis", name, None, opts)
        image = images.pinned(f"{name}-image", args.image, self)
        files = {"redis-password": args.password}
        networks = [docker.ContainerNetworksAdvancedArgs(name=args.network.name, aliases=[ALIAS])]
        self.exporter_password = None
        if args.monitoring is not None:
            generated = random.RandomPassword(
                f"{name}-exporter-password",
                length=40,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.exporter_password = pulumi.Output.secret(generated.result)
            users = self.exporter_password.apply(redis_acl.exporter_user)
            files[redis_acl.USERS_FILE] = pulumi.Output.secret(users)
            networks.append(
                docker.ContainerNetworksAdvancedArgs(name=args.monitoring.name, aliases=[ALIAS])
            )
        self.secrets_writer = secret_files.writer(
            f"{name}-secrets",
            secret_files.SecretFilesArgs(
                stack=args.stack,
                service="redis",
                image_id=image.image_id,
                owner=f"{UID}:{UID}",
                volume=args.secrets_volume,
                files=files,
            ),
            self,
        )
        spec = hardening.Baseline(
            service="redis",
            stack=args.stack,
            memory_mb=args.memory_mb,
            healthcheck=HEALTHCHECK,
            secrets_revision=secret_files.revision(self.secrets_writer),
        )
        self.container = docker.Container(
            f"{name}-container",
            name=topology.name(args.stack, "redis"),
            image=image.image_id,
            command=["sh", "-c", LAUNCH, "redis", *redis_args(maxmemory_for(args.memory_mb))],
            user=f"{UID}:{UID}",
            networks_advanced=networks,
            volumes=[
                docker.ContainerVolumeArgs(volume_name=args.volume.name, container_path="/data"),
                secret_files.mount(args.secrets_volume),
            ],
            **hardening.container_args(spec),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"container": self.container.name, "image": args.image})
