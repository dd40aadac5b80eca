"""The bootstrapped prod host: deploy user, /opt/ora, firewall, logrotate, disk (marked prod)."""

from __future__ import annotations

import json

import pytest

from infra import bootstrap

pytestmark = pytest.mark.prod
MIN_FREE_GB = 2


def test_deploy_user_in_docker_group(host, cfg):
    user = host.user(cfg.target.ssh_user)
    assert user.exists
    assert "docker" in user.groups


@pytest.mark.parametrize("path", bootstrap.DIRECTORIES)
def test_directories_owned_by_deploy(host, cfg, path):
    directory = host.file(path)
    assert directory.is_directory
    assert (directory.user, directory.group, directory.mode) == (
        cfg.target.ssh_user,
        cfg.target.ssh_user,
        0o750,
    )


@pytest.fixture(scope="module")
def ora_table(host) -> list[dict]:
    ruleset = json.loads(host.check_output("nft -j list table inet ora"))["nftables"]
    return [item for item in ruleset if "chain" in item or "rule" in item]


def test_firewall_drops_by_default(ora_table):
    chain = next(item["chain"] for item in ora_table if "chain" in item)
    assert (chain["hook"], chain["policy"]) == ("input", "drop")


def test_firewall_opens_only_ssh_http_https(ora_table, cfg):
    opened = set()
    for item in ora_table:
        for expr in item.get("rule", {}).get("expr", []):
            right = expr.get("match", {}).get("right")
            if expr.get("match", {}).get("left", {}).get("payload", {}).get("field") == "dport":
                values = right["set"] if isinstance(right, dict) else [right]
                opened |= {int(v) for v in values}
    assert opened == {cfg.target.ssh_port, *bootstrap.OPEN_TCP_PORTS}


def test_logrotate_config(host):
    config = host.file("/etc/logrotate.d/ora")
    assert config.content_string == bootstrap.LOGROTATE


@pytest.mark.parametrize("unit", ["ora-backup.service", "ora-backup.timer"])
def test_backup_schedule_is_installed(host, cfg, unit):
    installed = host.file(f"{bootstrap.SYSTEMD_DIR}/{unit}")
    assert installed.content_string == bootstrap.backup_units(cfg.stack, cfg.backup_schedule)[unit]


def test_backup_command_is_installed(host):
    command = host.file(bootstrap.BACKUP_COMMAND)
    assert (command.user, command.mode) == ("root", 0o750)
    assert command.content_string == bootstrap.BACKUP_SCRIPT.read_text()


def test_free_disk_space(host):
    available_kb = int(host.check_output("df -Pk /opt/ora").splitlines()[1].split()[3])
    assert available_kb > MIN_FREE_GB * 1024 * 1024
