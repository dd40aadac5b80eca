"""The backup package (infra/hosttools/backup) is installed alone on the host and imports
nothing of infra/: its copies of the stack's names and the host's paths are held equal here
to the ones infra/ defines, and what the bootstrap writes is what the package reads."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import tarfile

import pytest
import yaml

from infra import config, topology
from infra.bootstrap import access, backup_units
from infra.bootstrap import script as bootstrap
from infra.hosttools.backup import cli, names
from infra.hosttools.backup.settings import load
from infra.ops import commands
from infra.services import qdrant, redis
from infra.targets.host import network

ROOT = topology.REPO_ROOT
SHIM = ROOT / "scripts" / "backup.sh"


def test_labels_and_names_are_topologys():
    assert (names.STACK_LABEL, names.SERVICE_LABEL) == (
        topology.STACK_LABEL,
        topology.SERVICE_LABEL,
    )
    assert names.HELPER_LABEL.startswith(f"{topology.LABEL_PREFIX}.")
    assert names.name("dev", "redis-data") == topology.name("dev", "redis-data")
    assert names.SECRETS_DIR == topology.SECRETS_DIR
    assert topology.QDRANT.port == names.QDRANT_PORT


def test_the_volumes_and_secrets_are_the_services():
    assert {*names.VOLUMES, names.QDRANT_VOLUME} <= set(network.VOLUMES)
    assert names.REDIS_SECRET == redis.PASSWORD_FILE
    assert names.QDRANT_SECRET == qdrant.API_KEY_FILE


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (names.COMMAND, backup_units.COMMAND),
        (names.COMMAND, bootstrap.BACKUP_COMMAND),
        (names.COMMAND, commands.BACKUP_COMMAND),
        (names.SETTINGS_FILE, backup_units.SETTINGS_FILE),
        (names.CREDENTIALS_FILE, backup_units.CREDENTIALS_FILE),
        (names.PASSWORD_FILE, backup_units.PASSWORD_FILE),
        (names.OFFSITE_SSH_KEY_FILE, backup_units.OFFSITE_SSH_KEY_FILE),
        (names.OFFSITE_KNOWN_HOSTS_FILE, backup_units.OFFSITE_KNOWN_HOSTS_FILE),
        (names.REPOSITORY, commands.BACKUP_DEFAULTS["RESTIC_REPOSITORY"]),
        (names.PASSWORD_FILE, commands.BACKUP_DEFAULTS["RESTIC_PASSWORD_FILE"]),
    ],
    ids=lambda value: value,
)
def test_the_host_paths_are_the_bootstraps_and_the_operators(ours, theirs):
    assert ours == theirs


@pytest.mark.parametrize(
    "path", [names.CREDENTIALS_FILE, names.PASSWORD_FILE, names.OFFSITE_SSH_KEY_FILE]
)
def test_the_secret_files_are_root_only(path):
    assert path in access.ROOT_ONLY_FILES


def test_the_metric_directory_default_is_the_stack_configs():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert declared["backupTextfileDir"]["default"] == names.TEXTFILE_DIR


def test_the_settings_the_bootstrap_writes_are_the_ones_read(tmp_path):
    offsite = "sftp:b@vault.example.net:/srv/ora"
    cfg = config.offline("prod")
    cfg = type(cfg)(**{**cfg.__dict__, "backup_offsite_repository": offsite})
    (tmp_path / "backup.conf").write_text(backup_units.settings(cfg))
    secret = f"wJalr/XUtnF+EMI'K7 $(touch {tmp_path}/ran)"
    (tmp_path / "backup.env").write_text(backup_units.s3_credentials("AKIA0", secret))
    settings = load(
        {
            "ORA_STACK": "elsewhere",
            "ORA_BACKUP_SETTINGS": str(tmp_path / "backup.conf"),
            "ORA_BACKUP_CREDENTIALS": str(tmp_path / "backup.env"),
        }
    )
    assert (settings.stack, settings.offsite, settings.textfile_dir) == (
        "prod", offsite, cfg.backup_textfile_dir
    )  # fmt: skip
    assert settings.password_file == backup_units.PASSWORD_FILE
    assert settings.offsite_ssh_key == backup_units.OFFSITE_SSH_KEY_FILE
    assert settings.offsite_known_hosts == backup_units.OFFSITE_KNOWN_HOSTS_FILE
    assert settings.env["AWS_SECRET_ACCESS_KEY"] == secret  # data, never run
    assert not (tmp_path / "ran").exists()


def test_every_setting_the_bootstrap_writes_is_documented_in_the_usage():
    keys = [line.split("=", 1)[0] for line in backup_units.settings(config.offline("prod")).split()]
    assert keys and all(key in cli.USAGE for key in keys)


def test_the_shim_finds_the_package_where_the_bootstrap_installs_it():
    assert f' {backup_units.PACKAGE_ROOT} "$@"\n' in SHIM.read_text()
    assert f"{backup_units.PACKAGE_ROOT}/backup" == backup_units.PACKAGE_DIR


def test_the_bootstrap_installs_every_module_and_the_shim():
    script = bootstrap.script(config.offline("prod"))
    modules = sorted(p.name for p in backup_units.PACKAGE_SOURCE.glob("*.py"))
    installed = list(backup_units.package_files())
    assert installed == [f"{backup_units.PACKAGE_DIR}/{m}" for m in modules]
    encoded = script.split("<<'ORA_PACKAGE_END' | tar -xz --no-same-owner -C /\n", 1)[1]
    encoded = encoded.split("ORA_PACKAGE_END\n", 1)[0]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded)), mode="r:gz") as archive:
        unpacked = {
            "/" + m.name: (archive.extractfile(m).read().decode(), m.mode, m.mtime)
            for m in archive.getmembers()
        }
    assert unpacked == {
        path: (text, 0o644, 0) for path, text in backup_units.package_files().items()
    }
    assert script.index(backup_units.PACKAGE_DIR) < script.index(bootstrap.BACKUP_COMMAND)


def test_the_bootstrap_script_fits_in_one_argument_with_room_to_grow():
    """The SSH login shell gets the script as one argument: Linux takes at most 128 KiB."""
    prod = config.offline("prod")
    size = len(bootstrap.sudo(prod.access.bootstrap_user, bootstrap.script(prod)).encode())
    assert size < 128 * 1024 * 3 // 4, size


def test_the_installed_shim_runs_the_installed_package(tmp_path):
    """The bootstrap's package and shim steps, run under tmp_path instead of /usr/local: the
    shim, away from any checkout, finds the package and prints the usage."""
    prefix = str(tmp_path)
    steps = "".join(
        f"install -m 0644 /dev/stdin {path} <<'ORA_FILE_END'\n{text}ORA_FILE_END\n"
        for path, text in backup_units.package_files().items()
    )
    shim = SHIM.read_text().replace(backup_units.PACKAGE_ROOT, f"{prefix}/lib/ora/hosttools")
    steps = f"install -d -m 0755 {backup_units.PACKAGE_DIR}\n{steps}".replace("/usr/local", prefix)
    steps += f"install -d {prefix}/sbin\ninstall -m 0750 /dev/stdin {prefix}/sbin/ora-backup"
    steps += f" <<'ORA_FILE_END'\n{shim}ORA_FILE_END\n"
    subprocess.run(["bash", "-c", steps], check=True)
    ran = subprocess.run(
        [f"{prefix}/sbin/ora-backup", "--help"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (2, "", cli.USAGE)
    rolled = subprocess.run(
        [f"{prefix}/sbin/ora-backup", "rollback"], cwd=tmp_path, capture_output=True, text=True
    )
    assert (
        rolled.stderr
        == "ora-backup: error: rollback needs exactly one NAME (see: ora-backup list)\n"
    )
