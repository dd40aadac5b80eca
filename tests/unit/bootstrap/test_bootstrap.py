"""The host bootstrap script: valid bash, shellcheck-clean, and what it installs."""

import subprocess

import pytest

from infra import config
from infra.bootstrap import access as host_access
from infra.bootstrap import backup_units
from infra.bootstrap import metrics_units as container_metrics_units
from infra.bootstrap import script as bootstrap
from infra.edge import acme
from tests.unit import program

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


def with_keys(stack="prod", **raw) -> config.StackConfig:
    return config.parse(
        stack,
        {**program.stack_values("prod"), **raw},
        secrets_set=frozenset(program.PROD_SECRETS),
        verify_certificate=False,
    )


@pytest.mark.parametrize(
    ("raw", "opened"),
    [
        ({}, (22, 80, 443)),
        ({"httpsPort": "8443", "httpPort": "8080"}, (22, 8080, 8443)),
        ({"sshPort": "2222"}, (80, 443, 2222)),
    ],
    ids=["defaults", "custom-web-ports", "custom-ssh-port"],
)
def test_firewall_opens_ssh_and_exactly_the_published_ports(raw, opened):
    cfg = with_keys(**raw)
    assert host_access.firewall_ports(cfg) == opened
    rules = host_access.nftables_rules(host_access.firewall_ports(cfg))
    assert f"tcp dport {{ {', '.join(map(str, opened))} }} accept" in rules
    assert rules in bootstrap.script(cfg)


def test_firewall_is_loaded_by_its_own_unit_not_nftables_conf():
    assert "echo 'include" not in SCRIPT and ">> /etc/nftables.conf" not in SCRIPT
    assert f"systemctl enable {host_access.FIREWALL_UNIT}" in SCRIPT
    unit = host_access.firewall_unit()
    assert f"ExecStart=/usr/sbin/nft -f {host_access.NFT_FILE}" in unit
    assert "flush ruleset" not in unit + host_access.nftables_rules((22,))


def test_an_old_include_line_is_removed():
    assert f"sed -i '\\#include \"{host_access.NFT_FILE}\"#d' /etc/nftables.conf" in SCRIPT


@pytest.mark.parametrize(("key", "value"), host_access.sshd_settings(PROD))
def test_sshd_drop_in_sets(key, value):
    assert f"\n{key} {value}\n" in host_access.sshd_drop_in(PROD)


@pytest.mark.parametrize(("user", "root_login"), [("root", "prohibit-password"), ("admin", "no")])
def test_root_logs_in_only_while_it_runs_the_bootstrap(user, root_login):
    # Root as bootstrapUser is refused in prod (tests/unit/config/test_config.py): another stack.
    drop_in = host_access.sshd_drop_in(with_keys("staging", bootstrapUser=user))
    assert f"\nPermitRootLogin {root_login}\n" in drop_in


def test_prod_host_refuses_root_logins():
    assert PROD.access.bootstrap_user != "root"
    assert "\nPermitRootLogin no\n" in host_access.sshd_drop_in(PROD)


def test_sshd_drop_in_is_validated_before_reload_and_restored_if_rejected():
    steps = host_access.sshd_steps(PROD)
    assert steps.index("if sshd -t; then") < steps.index("systemctl reload ssh")
    assert "the previous file is back" in steps and "exit 1" in steps
    assert steps in SCRIPT


def test_deploy_user_gets_exactly_the_configured_keys():
    assert host_access.authorized_keys(PROD) + "ORA_KEYS\n" in SCRIPT
    assert 'install -d -m 0700 -o deploy -g deploy "$home/.ssh"' in SCRIPT


OPERATOR_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOV5wi8x9MvcTN7M29vZ/m5rq/M2YXFfgSnqNaG5uj+H op"


def test_ci_keys_reach_the_docker_api_only_operators_keys_a_shell():
    ci = PROD.access.ci_keys
    assert ci and all(k.startswith("ssh-ed25519 ") for k in ci)
    lines = host_access.authorized_keys(with_keys(deployPublicKey=OPERATOR_KEY)).splitlines()
    restricted = 'restrict,command="docker system dial-stdio"'
    assert lines == [OPERATOR_KEY, *(f"{restricted} {key}" for key in ci)]


@pytest.mark.parametrize(("path", "owner", "group", "mode"), host_access.DIRECTORIES)
def test_directory_ownership(path, owner, group, mode):
    assert f"install -d -m {mode} -o {owner} -g {group or 'deploy'} {path}\n" in SCRIPT


def test_opt_ora_is_not_the_deploy_users():
    assert ("/opt/ora", "root", "root", "0755") in host_access.DIRECTORIES
    assert "chown root:root /opt/ora/backup.env; chmod 0600 /opt/ora/backup.env" in SCRIPT


def test_script_installs_the_backup_command_verbatim():
    assert bootstrap.BACKUP_SCRIPT.read_text() in SCRIPT


def test_script_installs_the_container_metrics_writer_and_restarts_it_after_reload():
    units = container_metrics_units
    assert units.SCRIPT.read_text() in SCRIPT
    assert f"install -m 0750 /dev/stdin {units.COMMAND} <<" in SCRIPT
    reload = SCRIPT.rindex("systemctl daemon-reload")
    assert SCRIPT.index(f"{units.SYSTEMD_DIR}/{units.SERVICE}") < reload
    assert SCRIPT.index(f"systemctl restart {units.SERVICE}") > reload
    assert f"install -d -m 0755 {PROD.backup_textfile_dir}\n" in SCRIPT


def test_container_metrics_writer_writes_where_node_exporter_reads():
    unit = container_metrics_units.unit("prod", PROD.backup_textfile_dir)
    expected = (
        f"--dir {PROD.backup_textfile_dir} --every {container_metrics_units.INTERVAL_SECONDS}"
    )
    assert f"ExecStart={container_metrics_units.COMMAND} {expected}\n" in unit
    assert "Restart=always\n" in unit


# Commands a non-root bootstrap user runs through sudo; each must reach root unchanged.
ROOT_COMMANDS = {
    "quotes": "printf %s 'quoted'",
    "acme-server": acme.issue_command(
        "ora.example.com",
        "ops@example.com",
        "https://acme.example/dir?x=$(touch PWNED)",
        acme.WEBROOT,
    ),
    "substitutions": "printf %s \"$(touch PWNED)\" '`touch PWNED`' \\'",
}


@pytest.mark.parametrize("command", ROOT_COMMANDS.values(), ids=list(ROOT_COMMANDS))
def test_sudo_command_hands_root_exactly_the_command(command, tmp_path):
    # The line as the SSH session's shell reads it, with a sudo that prints its arguments:
    # the login shell must expand nothing (no PWNED here) and pass the command whole.
    fake_sudo = "sudo() { printf '%s\\0' \"$@\"; }; "
    line = bootstrap.sudo_command("admin", command)
    ran = subprocess.run(
        ["bash", "-c", fake_sudo + line], cwd=tmp_path, capture_output=True, text=True
    )
    assert ran.stdout.split("\0")[:-1] == ["-n", "sh", "-c", command], line
    assert not (tmp_path / "PWNED").exists(), line


def test_backup_settings_are_root_only():
    # backup.conf names the off-host repository: root reads it (backup.sh), nobody else.
    assert f"install -m 0600 /dev/stdin {backup_units.SETTINGS_FILE} <<" in SCRIPT
