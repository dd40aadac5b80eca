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


def test_script_installs_the_backup_command_verbatim():
    assert bootstrap.BACKUP_SCRIPT.read_text() in SCRIPT
