"""Runs the operator commands that infra/ops/commands.py builds (the make targets call this).

python -m infra.ops status STACK [--url URL]
python -m infra.ops logs STACK [--service NAME] [--since 10m] [--tail N]
python -m infra.ops health STACK [--outputs FILE] [pytest args…]
python -m infra.ops maintenance STACK on|off
python -m infra.ops backup-check STACK [--max-age-hours 26]
python -m infra.ops history STACK
python -m infra.ops rollback STACK [--image REF]
python -m infra.ops rollout STACK [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra import deploys, topology
from infra.config import StackConfig, offline
from infra.ops import commands as ops
from infra.ops import probe
from infra.ops import rollout as swarm_rollout

ROOT = topology.REPO_ROOT


def _run(command: list[str], cfg: StackConfig, check: bool = True) -> str:
    done = subprocess.run(
        command, env={**os.environ, **ops.docker_env(cfg)}, capture_output=True, text=True
    )
    if check and done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])}… failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout + (done.stderr if not check else "")


def _containers(cfg: StackConfig, service: str | None = None) -> list[dict]:
    ids = _run(ops.list_containers(cfg.stack, service), cfg).split()
    if not ids:
        where = ops.docker_env(cfg).get("DOCKER_HOST", "the local engine")
        what = f"service {service!r} of stack" if service else "stack"
        sys.exit(f"no container of {what} {cfg.stack!r} on {where} (labels {ops.STACK_LABEL})")
    inspected = ops.decode_inspect(_run(ops.inspect(ids), cfg))
    # Asked by name, an installer is shown too (its logs say what it installed).
    return inspected if service else ops.services_only(inspected)


def status(cfg: StackConfig, url: str | None) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [ops.service_status(c, now) for c in _containers(cfg)]
    print(ops.status_table(rows))
    base = url or cfg.edge.url
    print(f"\n{base}/  HTTP {probe.http_status(base + '/')}")
    print(f"{base}/healthz  HTTP {probe.http_status(base + '/healthz')}")
    print(probe.certificate(base, now))


def logs(cfg: StackConfig, service: str | None, since: str | None, tail: str | None) -> None:
    if cfg.swarm.enabled:
        outputs = {}
        for name in _services(cfg, service):
            text = _run(ops.service_logs(name, since, tail), cfg, check=False)
            outputs |= ops.split_service_logs(name, text)
    else:
        names = [c["Name"].lstrip("/") for c in _containers(cfg, service)]
        outputs = {name: _run(ops.logs(name, since, tail), cfg, check=False) for name in names}
    for line in ops.merge_logs(outputs):
        print(line)


def _services(cfg: StackConfig, service: str | None = None) -> list[str]:
    """A swarm stack's services, asked of a manager (every node's tasks)."""
    names = _run(ops.list_services(cfg.stack, service), cfg).split()
    if not names:
        what = f"service {service!r} of stack" if service else "stack"
        sys.exit(f"no swarm service of {what} {cfg.stack!r} on {_where(cfg)} ({ops.STACK_LABEL})")
    return names


def health(cfg: StackConfig, outputs: str | None, extra: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        if not outputs:
            outputs = str(Path(tmp) / "outputs.json")
            command = ["pulumi", "stack", "output", "--json", "--stack", cfg.stack]
            Path(outputs).write_text(_run(command, cfg))
        command = [
            sys.executable, "-m", "pytest", "tests/infra", f"--hosts={ops.testinfra_host(cfg)}",
            f"--stack={cfg.stack}", f"--stack-outputs={outputs}", "-m", ops.health_markers(cfg),
            "-p", "no:cacheprovider", *extra,
        ]  # fmt: skip
        return subprocess.run(
            command, cwd=ROOT, env={**os.environ, **ops.docker_env(cfg)}
        ).returncode


def maintenance(cfg: StackConfig, mode: str) -> int:
    pulumi = os.environ.get("PULUMI", "pulumi")
    try:
        commands = ops.maintenance_commands(cfg.stack, mode, pulumi)
    except ValueError as error:
        sys.exit(str(error))
    for command in commands:
        print("+ " + " ".join(command), flush=True)
        code = subprocess.run(command, cwd=ROOT).returncode
        if code:
            return code
    return 0


def _outputs(cfg: StackConfig, pulumi: str) -> dict:
    command = [pulumi, "stack", "output", "--json", "--stack", cfg.stack]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout or "{}")


def history(cfg: StackConfig) -> int:
    pulumi = os.environ.get("PULUMI", "pulumi")
    entries = _outputs(cfg, pulumi).get(deploys.OUTPUT) or []
    if not entries:
        sys.exit(f"stack {cfg.stack!r} has no {deploys.OUTPUT} output yet: deploy it first")
    print(deploys.history_table(entries))
    if cfg.images.app_rollback:
        print(
            f"\nrollback configured: {cfg.images.app_rollback} in place of "
            f"{cfg.images.app_rollback_from} (a new appImage supersedes it)"
        )
    return 0


def rollback(cfg: StackConfig, image: str | None) -> int:
    pulumi = os.environ.get("PULUMI", "pulumi")
    entries = _outputs(cfg, pulumi).get(deploys.OUTPUT) or []
    try:
        target = deploys.rollback_target(entries, image)
    except ValueError as error:
        sys.exit(f"make rollback: {error}")
    commands = deploys.rollback_commands(
        cfg.stack, entries, target, cfg.images.app_rollback_from, pulumi
    )
    for command in commands:
        print("+ " + " ".join(command), flush=True)
        code = subprocess.run(command, cwd=ROOT).returncode
        if code:
            return code
    # On swarm the up returns while the services roll (as after `make up`): wait for them,
    # and fail on a rollout Swarm undid.
    if cfg.swarm.enabled and rollout(cfg, swarm_rollout.DEFAULT_TIMEOUT_SECONDS):
        print(f"rollback to {target}: the swarm did not take it", file=sys.stderr)
        return 1
    running = _outputs(cfg, pulumi).get("images", {}).get("app")
    if running != target:
        print(f"rollback NOT in effect: the app runs {running}, not {target}", file=sys.stderr)
        return 1
    print(f"rolled back to {target}")
    return 0


def backup_check(cfg: StackConfig, max_age_hours: int) -> int:
    listing, check = ops.backup_commands(cfg, str(ROOT / "scripts" / "backup.sh"))
    env = ops.backup_env(cfg.stack, dict(os.environ))
    listed = subprocess.run(listing, env=env, capture_output=True, text=True)
    if listed.returncode:
        sys.exit(f"backup list failed ({listed.returncode}): {listed.stderr.strip()}")
    print(listed.stdout.rstrip())
    backups = ops.parse_backup_list(listed.stdout)
    print(ops.backup_summary(backups, dt.datetime.now(dt.UTC), max_age_hours))
    checked = subprocess.run(check, env=env, capture_output=True, text=True)
    print(f"restic check: {'ok' if checked.returncode == 0 else 'FAILED'}")
    if checked.returncode:
        print(checked.stdout + checked.stderr, file=sys.stderr)
    fresh = ops.backup_is_fresh(backups, dt.datetime.now(dt.UTC), max_age_hours)
    return 0 if fresh and checked.returncode == 0 else 1


def cleanup(cfg: StackConfig, extra: list[str]) -> int:
    """The host's weekly image cleanup (infra/hosttools/cleanup.py) now, on the stack's engine;
    its logs and journal are left to the host's own timer."""
    command = [sys.executable, "-m", "infra.hosttools.cleanup", "--images-only", *extra]
    env = {**os.environ, **ops.docker_env(cfg)}
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def rollout(cfg: StackConfig, timeout: float) -> int:
    """Waits until no service of a swarm stack is updating; fails on a rollout Swarm rolled
    back or paused (infra/ops/rollout.py). A single-host stack has nothing to check."""
    if not cfg.swarm.enabled:
        return 0
    deadline = time.monotonic() + timeout
    while True:
        listed = _run(
            [
                *("docker", "service", "ls", "--format", "{{.Name}}\t{{.Replicas}}"),
                *("--filter", f"label={ops.STACK_LABEL}={cfg.stack}"),
            ],
            cfg,
        )
        replicas = dict(line.split("\t", 1) for line in listed.splitlines() if line.strip())
        if not replicas:
            sys.exit(f"no service of stack {cfg.stack!r} on {_where(cfg)}")
        inspected = json.loads(_run(["docker", "service", "inspect", *replicas], cfg))
        found = swarm_rollout.rollouts(inspected, replicas)
        if swarm_rollout.settled(found):
            break
        if time.monotonic() > deadline:
            busy = [f"{r.service} ({r.state}, {r.running}/{r.desired})" for r in found]
            sys.exit(f"not settled after {timeout:.0f} s: {', '.join(busy)}")
        time.sleep(swarm_rollout.POLL_SECONDS)
    failed = swarm_rollout.failures(found)
    if failed:
        print(swarm_rollout.report(cfg.stack, failed), file=sys.stderr)
        return 1
    print(f"stack {cfg.stack}: every rollout kept ({len(found)} services)")
    return 0


def _where(cfg: StackConfig) -> str:
    return ops.docker_env(cfg).get("DOCKER_HOST", "the local engine")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status")
    p.add_argument("stack")
    p.add_argument("--url")
    p = sub.add_parser("logs")
    p.add_argument("stack")
    p.add_argument("--service")
    p.add_argument("--since")
    p.add_argument("--tail")
    p = sub.add_parser("health")
    p.add_argument("stack")
    p.add_argument("--outputs")
    p = sub.add_parser("maintenance")
    p.add_argument("stack")
    p.add_argument("mode")
    p = sub.add_parser("backup-check")
    p.add_argument("stack")
    p.add_argument("--max-age-hours", type=int, default=26)
    p = sub.add_parser(
        "cleanup", help="ARGS go to infra/hosttools/cleanup.py (--dry-run, --keep N)"
    )
    p.add_argument("stack")
    p = sub.add_parser("history")
    p.add_argument("stack")
    p = sub.add_parser("rollback")
    p.add_argument("stack")
    p.add_argument("--image", help="an earlier image of `make history` (default: the last)")
    p = sub.add_parser("rollout", help="a swarm stack: fail on an update Swarm rolled back")
    p.add_argument("stack")
    p.add_argument("--timeout", type=float, default=swarm_rollout.DEFAULT_TIMEOUT_SECONDS)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("health", "cleanup"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    cfg = offline(args.stack)
    if args.command == "status":
        status(cfg, args.url)
    elif args.command == "logs":
        logs(cfg, args.service, args.since, args.tail)
    elif args.command == "health":
        return health(cfg, args.outputs, extra)
    elif args.command == "maintenance":
        return maintenance(cfg, args.mode)
    elif args.command == "backup-check":
        return backup_check(cfg, args.max_age_hours)
    elif args.command == "cleanup":
        return cleanup(cfg, extra)
    elif args.command == "history":
        return history(cfg)
    elif args.command == "rollback":
        return rollback(cfg, args.image)
    elif args.command == "rollout":
        return rollout(cfg, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
