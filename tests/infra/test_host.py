"""The bootstrapped prod host: deploy user, /opt/ora, firewall, logrotate, timers, disk (prod)."""

from __future__ import annotations

import json

import pytest

from infra.bootstrap import access as host_access
from infra.bootstrap import backup_units, maintenance_units
from infra.bootstrap import metrics_units as container_metrics_units
from infra.bootstrap import script as bootstrap

pytestmark = pytest.mark.prod
MIN_FREE_GB = 2


def test_deploy_user_in_docker_group(host, cfg):
    user = host.user(cfg.access.ssh_user)
    assert user.exists
    assert "docker" in user.groups


@pytest.mark.parametrize(("path", "owner", "group", "mode"), host_access.DIRECTORIES)
def test_directory_ownership(host, cfg, path, owner, group, mode):
    directory = host.file(path)
    assert directory.is_directory
    expected = (owner, group or cfg.access.ssh_user, int(mode, 8))
    assert (directory.user, directory.group, directory.mode) == expected


def test_deploy_user_cannot_write_where_root_units_read(host, cfg):
    user = cfg.access.ssh_user
    probe = host.run("runuser -u %s -- touch /opt/ora/backup.env", user)
    assert probe.rc != 0, f"{user} could create /opt/ora/backup.env"


def test_deploy_user_has_exactly_the_configured_keys(host, cfg):
    home = host.user(cfg.access.ssh_user).home
    keys = host.file(f"{home}/.ssh/authorized_keys")
    assert (keys.user, keys.mode) == (cfg.access.ssh_user, 0o600)
    assert keys.content_string == host_access.authorized_keys(cfg)
    assert host.file(f"{home}/.ssh").mode == 0o700


@pytest.fixture(scope="module")
def sshd_effective(host) -> dict[str, str]:
    """`sshd -T`: the configuration sshd would run with, drop-ins applied."""
    lines = host.check_output("sshd -T").splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)


# `sshd -T` prints prohibit-password under its older name.
EFFECTIVE_SPELLING = {"prohibit-password": "without-password"}


@pytest.mark.parametrize("index", range(len(host_access.SSHD_SETTINGS) + 1))
def test_sshd_effective_setting(sshd_effective, cfg, index):
    key, value = host_access.sshd_settings(cfg)[index]
    assert sshd_effective[key.lower()] in (value, EFFECTIVE_SPELLING.get(value)), key


def test_firewall_unit_installed(host):
    unit = host.file(f"/etc/systemd/system/{host_access.FIREWALL_UNIT}")
    assert unit.content_string == host_access.firewall_unit()
    conf = host.file("/etc/nftables.conf")
    assert not conf.exists or host_access.NFT_FILE not in conf.content_string


@pytest.fixture(scope="module")
def ora_table(host) -> list[dict]:
    ruleset = json.loads(host.check_output("nft -j list table inet ora"))["nftables"]
    return [item for item in ruleset if "chain" in item or "rule" in item]


def test_firewall_drops_by_default(ora_table):
    chain = next(item["chain"] for item in ora_table if "chain" in item)
    assert (chain["hook"], chain["policy"]) == ("input", "drop")


def test_firewall_opens_only_ssh_and_the_published_ports(ora_table, cfg):
    opened = set()
    for item in ora_table:
        for expr in item.get("rule", {}).get("expr", []):
            right = expr.get("match", {}).get("right")
            if expr.get("match", {}).get("left", {}).get("payload", {}).get("field") == "dport":
                values = right["set"] if isinstance(right, dict) else [right]
                opened |= {int(v) for v in values}
    assert opened == set(host_access.firewall_ports(cfg))


def test_logrotate_config(host):
    config = host.file("/etc/logrotate.d/ora")
    assert config.content_string == bootstrap.LOGROTATE


def test_backup_units_and_settings_are_installed(host, cfg):
    """Every file infra/bootstrap/backup_units.py writes (units, timers, settings), as written."""
    for path, text in backup_units.files(cfg).items():
        assert host.file(path).content_string == text, path


def test_backup_command_is_installed(host):
    command = host.file(bootstrap.BACKUP_COMMAND)
    assert (command.user, command.mode) == ("root", 0o750)
    assert command.content_string == bootstrap.BACKUP_SCRIPT.read_text()


@pytest.mark.parametrize("path", sorted(maintenance_units.files()))
def test_maintenance_file_is_installed(host, path):
    assert host.file(path).content_string == maintenance_units.files()[path]


def test_cleanup_command_is_installed(host):
    command = host.file(maintenance_units.CLEANUP_COMMAND)
    assert (command.user, command.mode) == ("root", 0o750)
    assert command.content_string == maintenance_units.CLEANUP_SCRIPT.read_text()
    assert host.run("%s --help", maintenance_units.CLEANUP_COMMAND).rc == 0


@pytest.mark.parametrize("unit", [*bootstrap.ENABLED_TIMERS, container_metrics_units.SERVICE])
@pytest.mark.parametrize("state", ["is-enabled", "is-active"])
def test_unit(host, unit, state):
    assert host.run("systemctl %s %s", state, unit).rc == 0, f"{unit}: not {state[3:]}"


def test_textfile_directory_is_readable_by_node_exporter(host, cfg):
    """node-exporter reads ora_backup.prom and ora_containers.prom as an unprivileged user."""
    directory = host.file(cfg.backup_textfile_dir)
    assert (directory.is_directory, directory.user, directory.mode) == (True, "root", 0o755)


def test_unattended_upgrade_allows_only_security_origins(host):
    """unattended-upgrade itself reads the config (a dry run: nothing is installed)."""
    codename = host.check_output(". /etc/os-release && echo $VERSION_CODENAME")
    run = host.run("unattended-upgrade --dry-run --debug")
    assert run.rc == 0, run.stderr
    allowed = next(
        line.split(": ", 1)[1] for line in run.stdout.splitlines() if "Allowed origins are" in line
    )
    expected = [
        o.replace("${distro_codename}", codename) for o in maintenance_units.SECURITY_ORIGINS
    ]
    assert allowed.split(", ") == expected


def test_free_disk_space(host):
    available_kb = int(host.check_output("df -Pk /opt/ora").splitlines()[1].split()[3])
    assert available_kb > MIN_FREE_GB * 1024 * 1024
