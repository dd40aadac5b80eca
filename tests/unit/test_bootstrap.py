"""The host bootstrap script: valid bash, shellcheck-clean, and what it installs."""

import subprocess

import pytest

from infra import bootstrap, config

PROD = config.offline("prod")
SCRIPT = bootstrap.script(PROD)


def test_script_is_valid_bash():
    subprocess.run(["bash", "-n"], input=SCRIPT, text=True, check=True)


def test_script_passes_shellcheck():
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=warning", "-"],
        input=SCRIPT,
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("port", bootstrap.OPEN_TCP_PORTS)
def test_firewall_opens(port):
    assert str(port) in bootstrap.nftables_rules(22)


def test_firewall_follows_a_custom_ssh_port():
    assert "2222" in bootstrap.nftables_rules(2222)


def test_backup_timer_runs_on_the_configured_schedule():
    timer = bootstrap.backup_units("prod", "Mon *-*-* 04:00:00")["ora-backup.timer"]
    assert "OnCalendar=Mon *-*-* 04:00:00" in timer


def test_backup_service_creates_then_prunes_for_the_stack():
    service = bootstrap.backup_units("prod", "daily")["ora-backup.service"]
    assert "Environment=ORA_STACK=prod" in service
    assert f"ExecStart={bootstrap.BACKUP_COMMAND} create" in service
    assert f"ExecStartPost={bootstrap.BACKUP_COMMAND} prune" in service


def test_script_installs_the_backup_command_verbatim():
    assert bootstrap.BACKUP_SCRIPT.read_text() in SCRIPT


def test_password_is_read_from_stdin_only():
    assert bootstrap.password_file_command().startswith("umask 077 && cat > ")
