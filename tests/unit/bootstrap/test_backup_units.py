"""The backup's host files: settings, systemd units, the password rotation command."""

import dataclasses
import subprocess

import pytest

from infra import config
from infra.bootstrap import backup_units
from infra.bootstrap import script as bootstrap

PROD = config.offline("prod")
UNITS = backup_units.units("prod", "Mon *-*-* 04:00:00")


def test_timer_runs_on_the_configured_schedule():
    assert "OnCalendar=Mon *-*-* 04:00:00" in UNITS["ora-backup.timer"]


@pytest.mark.parametrize(
    "step", ["ExecStart={} create", "ExecStartPost={} prune", "ExecStartPost={} check"]
)
def test_service_creates_prunes_and_checks(step):
    assert step.format(backup_units.COMMAND) in UNITS["ora-backup.service"]


@pytest.mark.parametrize("unit", ["ora-backup.service", "ora-backup-check.service"])
def test_a_failed_job_triggers_the_failure_unit(unit):
    assert "OnFailure=ora-backup-failed@prod.service" in UNITS[unit]
    assert "ora-backup-failed@.service" in UNITS


def test_the_monthly_check_reads_data_back():
    assert "OnCalendar=monthly" in UNITS["ora-backup-check.timer"]
    assert (
        f"check --read-data-subset={backup_units.CHECK_SUBSET}" in UNITS["ora-backup-check.service"]
    )


def test_units_parse_without_unknown_keys(tmp_path):
    for name, text in UNITS.items():
        (tmp_path / name).write_text(text)
    # Only parse errors matter here: the command does not exist on this machine.
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(p) for p in tmp_path.iterdir() if "@" not in p.name)],
        capture_output=True,
        text=True,
    )
    assert "Unknown key" not in result.stderr and "Unknown section" not in result.stderr


def test_settings_name_the_stack_password_file_and_metric_directory():
    text = backup_units.settings(PROD)
    assert "ORA_STACK=prod\n" in text
    assert f"RESTIC_PASSWORD_FILE={backup_units.PASSWORD_FILE}\n" in text
    assert "ORA_BACKUP_TEXTFILE_DIR=/var/lib/prometheus/node-exporter\n" in text
    assert "ORA_BACKUP_OFFSITE_REPOSITORY" not in text


def test_settings_carry_the_offsite_repository():
    offsite = dataclasses.replace(
        PROD, backup_offsite_repository="sftp:b@vault.example.net:/srv/ora"
    )
    assert (
        "ORA_BACKUP_OFFSITE_REPOSITORY=sftp:b@vault.example.net:/srv/ora\n"
        in backup_units.settings(offsite)
    )


def test_bootstrap_writes_every_backup_file_and_enables_both_timers():
    script = bootstrap.script(PROD)
    for path in backup_units.files(PROD):
        assert f" {path} <<'ORA_FILE_END'" in script
    assert "systemctl enable --now ora-backup.timer ora-backup-check.timer" in script


def test_password_is_rotated_by_the_backup_command_from_stdin():
    assert backup_units.password_file_command() == f"{backup_units.COMMAND} set-password"
