"""Wiring only: read the stack's config once, build the components, export outputs."""

import sys
from pathlib import Path

# Pulumi runs this file as a script from infra/; make `infra` importable as a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_docker as docker

from infra import deploys
from infra.bootstrap.host import Host, HostArgs
from infra.config import ConfigError, load
from infra.secrets import Secrets, SecretsArgs
from infra.targets.host import main as host_main
from infra.targets.swarm import main as swarm_main

try:
    cfg = load()
except ConfigError as err:
    # One readable message, before any resource is registered.
    raise pulumi.RunError(str(err)) from None

secrets = Secrets("secrets", SecretsArgs(provided=cfg.secrets, generate=cfg.generate_secrets))
last_deploy = deploys.LastDeploy()

host = None
host_ready = []
if cfg.access.bootstrap:
    host = Host(
        "host",
        HostArgs(cfg, cfg.secrets.get("sshPrivateKey"), secrets.get("backupPassword")),
    )
    host_ready = [host.ready]
if cfg.swarm.enabled:
    host_ready = swarm_main.bootstrap(cfg, last_deploy)  # the swarm formed over SSH, if configured

engine = docker.Provider(
    "docker",
    host=cfg.access.docker_host,
    ssh_opts=["-o", "BatchMode=yes", "-o", "ServerAliveInterval=30"]
    if cfg.access.is_remote
    else None,
    opts=pulumi.ResourceOptions(depends_on=host_ready),
)
on_engine = pulumi.ResourceOptions(providers={"docker": engine})

if cfg.swarm.enabled:
    # ora:target swarm: the same stack as Swarm services.
    swarm_main.wire(cfg, secrets, on_engine, last_deploy)
else:
    host_main.wire(cfg, secrets, on_engine, last_deploy, host.connection if host else None)
