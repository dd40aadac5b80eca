"""The operator commands (make status, logs, health, maintenance, backup-check) against the
dev stack on a real engine, run as an operator runs them. Run: pytest tests/e2e -k ops"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import REPO, STACK, project_copy
from tests.e2e.realize import wait_healthy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

STAMP = re.compile(r"^(\S+)  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00)  ")


def make(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run(
        ["make", "--silent", "--no-print-directory", *args, f"STACK={STACK}"],
        cwd=REPO,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(f"\n$ make {' '.join(args)} -> {done.returncode} in {time.monotonic() - started:.1f} s")
    print(done.stdout[-3000:] + done.stderr[-2000:])
    return done


def status_rows(text: str) -> dict[str, list[str]]:
    lines = text.split("\n\n")[0].splitlines()[1:]
    return {line.split()[1]: line.split() for line in lines if line.strip()}


def test_make_status_lists_every_service_healthy(deployment):
    done = make("status", f"URL={deployment.outputs['url']}")
    assert done.returncode == 0
    rows = status_rows(done.stdout)
    assert set(rows) == set(deployment.containers)
    assert all(row[2:4] == ["running", "healthy"] for row in rows.values()), rows
    assert f"{deployment.outputs['url']}/healthz  HTTP 200" in done.stdout
    days = re.search(r"certificate: (\d+) days left", done.stdout)
    assert days and int(days[1]) > 30


def test_make_logs_merges_every_container_in_time_order(deployment):
    done = make("logs", "SINCE=30m")
    assert done.returncode == 0
    stamped = [STAMP.match(line) for line in done.stdout.splitlines()]
    stamps = [m[2] for m in stamped if m]
    assert stamps == sorted(stamps)
    sources = {m[1] for m in stamped if m}
    assert len(sources) >= 3, sources


def test_make_logs_of_one_service(deployment):
    done = make("logs", "SERVICE=redis", "TAIL=20")
    assert done.returncode == 0 and done.stdout.strip()
    names = {line.split("  ")[0] for line in done.stdout.splitlines() if line.strip()}
    assert names == {deployment.outputs["containers"]["redis"]}


def test_make_logs_of_an_unknown_service_says_so(deployment):
    done = make("logs", "SERVICE=nosuch")
    assert done.returncode != 0
    assert "no container of service 'nosuch' of stack 'dev'" in done.stderr


def test_make_health_passes(deployment):
    done = make("health", f"OUTPUTS={deployment.outputs_file}")
    assert done.returncode == 0
    assert re.search(r"\d+ passed", done.stdout)


@pytest.fixture
def restic_env(tmp_path) -> dict[str, str]:
    password = tmp_path / "restic-password"
    password.write_text(secrets.token_urlsafe(32) + "\n")
    password.chmod(0o600)
    return {
        **os.environ,
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD_FILE": str(password),
        "ORA_BACKUP_STAGING": str(tmp_path / "staging"),
    }


def test_make_backup_check_fails_without_a_backup_then_passes(deployment, restic_env):
    empty = make("backup-check", env=restic_env)
    assert empty.returncode != 0 and "backups: NONE" in empty.stdout
    created = subprocess.run(
        ["bash", str(REPO / "scripts" / "backup.sh"), "create"],
        env={**restic_env, "ORA_STACK": STACK},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert created.returncode == 0, created.stderr
    done = make("backup-check", env=restic_env)
    assert done.returncode == 0
    assert f"newest backup: {created.stdout.strip()}, " in done.stdout
    assert "(ok)" in done.stdout and "restic check: ok" in done.stdout


@pytest.fixture
def shim_env(deployment, wheels, tmp_path) -> dict[str, str]:
    """`pulumi` on PATH for make: the real CLI where installed, else tests/e2e/pulumi_shim."""
    if subprocess.run(["sh", "-c", "command -v pulumi"], capture_output=True).returncode == 0:
        pytest.fail("a Pulumi CLI is installed: run make maintenance against its stack instead")
    project = project_copy(deployment.workdir, "project-ops", wheels)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(deployment.overrides))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "pulumi"
    shim.write_text(
        f'#!/bin/sh\ncd {REPO} && exec {sys.executable} -m tests.e2e.pulumi_shim "$@"\n'
    )
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "ORA_SHIM_CONFIG": str(config),
        "ORA_SHIM_PROJECT": str(project),
        "ORA_SHIM_STATE": str(deployment.workdir / "state.json"),
        "ORA_SHIM_OUTPUTS": str(deployment.outputs_file),
    }


@pytest.mark.destructive
def status_until(url: str, done, seconds: float = 15) -> str:
    """`make status` until `done(stdout)`: an edge change is live once nginx's launcher has
    reloaded it, within about a second of the apply (infra/edge/release.py)."""
    deadline = time.monotonic() + seconds
    while True:
        shown = make("status", f"URL={url}").stdout
        if done(shown) or time.monotonic() > deadline:
            return shown
        time.sleep(0.5)


def test_make_maintenance_on_then_off(deployment, shim_env):
    url = deployment.outputs["url"]
    try:
        on = make("maintenance", "on", env=shim_env)
        assert on.returncode == 0
        during = status_until(url, lambda shown: f"{url}/  HTTP 503" in shown)
        assert f"{url}/  HTTP 503" in during
    finally:
        off = make("maintenance", "MODE=off", env=shim_env)
        deployment.outputs = json.loads(deployment.outputs_file.read_text())
        for name in deployment.containers:
            wait_healthy(deployment.client, name, 120)
    assert off.returncode == 0
    after = status_until(url, lambda shown: "HTTP 503" not in shown)
    assert f"{url}/healthz  HTTP 200" in after and "HTTP 503" not in after


def runbook_commands() -> list[str]:
    """The `make` lines of docs/runbook.md's code blocks."""
    text = (REPO / "docs" / "runbook.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_runbook_has_only_make_commands():
    commands = runbook_commands()
    assert commands and all(c.startswith("make ") for c in commands), commands


@pytest.mark.parametrize("command", sorted(set(runbook_commands())))
def test_runbook_command(deployment, command, restic_env):
    args = command.split()[1:]
    # What an operator gets from the stack itself (pulumi stack output), passed explicitly here.
    extra = {
        "status": [f"URL={deployment.outputs['url']}"],
        "health": [f"OUTPUTS={deployment.outputs_file}"],
    }.get(args[0], [])
    if args[0] == "backup-check":  # the host's daily backup, taken here into a scratch repo
        created = subprocess.run(
            ["bash", str(REPO / "scripts" / "backup.sh"), "create"],
            env={**restic_env, "ORA_STACK": STACK},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert created.returncode == 0, created.stderr
    done = make(*args, *extra, env=restic_env)
    assert done.returncode == 0
    assert done.stdout.strip()
