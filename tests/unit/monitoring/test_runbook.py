"""Every command docs/runbook.md gives is one of this repository's: a make target, a script
or an infra module, and its dry form (`make -n`, `--help`) runs. tests/e2e/test_ops.py runs
the diagnose blocks for real against the e2e stack."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest

from infra.config.schema import PROJECT_ROOT

RUNBOOK = (PROJECT_ROOT / "docs" / "runbook.md").read_text()
REPO_COMMAND = re.compile(r"^(make |\./scripts/|scripts/|python -m infra\.)")


def commands() -> list[str]:
    """Lines of ```sh blocks, and inline code that reads as a command (a tool on PATH)."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    prose = re.sub(r"```.*?```", "", RUNBOOK, flags=re.S)
    inline = [
        span
        for span in re.findall(r"`([^`\n]+)`", prose)
        if span != "make" and (REPO_COMMAND.match(span) or shutil.which(span.split()[0]))
    ]
    return sorted(set(lines + inline))


COMMANDS = commands()


def of_kind(prefix: str) -> list[str]:
    return [c for c in COMMANDS if re.match(prefix, c)]


def test_runbook_gives_only_the_repositorys_commands():
    foreign = [c for c in COMMANDS if not REPO_COMMAND.match(c)]
    assert not foreign, f"not a make target, script or infra module of this repo: {foreign}"


def test_every_alert_section_has_a_diagnose_block():
    sections = re.split(r"\n## ", RUNBOOK.split("\n# Alerts\n", 1)[1])[1:]
    assert sections
    missing = [s.split("\n", 1)[0] for s in sections if "```sh\nmake " not in s]
    assert not missing, missing


@pytest.mark.parametrize("command", of_kind("make "))
def test_make_command_is_a_target_and_its_dry_run_works(command):
    args = shlex.split(command)[1:]
    targets = re.findall(r"^([a-z0-9-]+):", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert args[0] in targets, f"{command}: no such make target"
    done = subprocess.run(
        ["make", "-n", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", of_kind(r"(\./)?scripts/"))
def test_script_exists_and_its_usage_names_the_subcommand(command):
    script, *args = shlex.split(command)
    path = PROJECT_ROOT / script.removeprefix("./")
    assert path.is_file(), f"{command}: no {path}"
    done = subprocess.run(
        ["bash", str(path), "--help"], capture_output=True, text=True, timeout=60, env={}
    )
    usage = done.stdout + done.stderr
    assert not args or f"{path.name} {args[0]}" in usage, usage


@pytest.mark.parametrize("command", of_kind(r"python -m infra\."))
def test_infra_module_help_runs(command):
    module = shlex.split(command)[2]
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
