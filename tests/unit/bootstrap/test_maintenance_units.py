"""The host's scheduled maintenance: security upgrades, the weekly cleanup and its plan."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from infra import config
from infra.bootstrap import maintenance_units
from infra.bootstrap import script as bootstrap
from infra.hosttools.cleanup import Image, instant, old_logs, plan, repository

PROD = config.offline("prod")
SCRIPT = bootstrap.script(PROD)
DEBIAN_DEFAULTS = Path("/etc/apt/apt.conf.d/50unattended-upgrades")  # unattended-upgrades


def test_cleanup_units_verify(tmp_path):
    """systemd's own verifier, with the command present, accepts both units as they are."""
    command = tmp_path / "ora-cleanup"
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    for name, text in maintenance_units.cleanup_units().items():
        (tmp_path / name).write_text(text.replace(maintenance_units.CLEANUP_COMMAND, str(command)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "ora-cleanup.timer")],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_cleanup_runs_weekly():
    timer = maintenance_units.cleanup_units()["ora-cleanup.timer"]
    calendar = re.search(r"^OnCalendar=(.+)$", timer, flags=re.M)[1]
    result = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=2", calendar],
        capture_output=True,
        text=True,
        check=True,
    )
    elapses = re.findall(r"(?:Next elapse|Iter\. #2): (\w+) ", result.stdout)
    assert elapses == ["Sun", "Sun"], result.stdout


@pytest.fixture
def apt_config(tmp_path):
    """`apt-config dump` over Debian's shipped defaults plus the files the bootstrap writes."""
    parts = tmp_path / "apt.conf.d"
    parts.mkdir()
    (parts / DEBIAN_DEFAULTS.name).write_text(DEBIAN_DEFAULTS.read_text())
    for path, text in maintenance_units.files().items():
        if path.startswith(maintenance_units.APT_DIR):
            (parts / Path(path).name).write_text(text)
    main = tmp_path / "apt.conf"
    main.write_text(f'Dir::Etc::parts "{parts}";\n')
    dumped = subprocess.run(
        ["apt-config", "dump"],
        env={**os.environ, "APT_CONFIG": str(main)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in dumped.splitlines() if line]


def test_unattended_upgrades_take_security_fixes_only(apt_config):
    origins = [
        line.split(" ", 1)[1].strip('";')
        for line in apt_config
        if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")
    ]
    assert origins == list(maintenance_units.SECURITY_ORIGINS)


@pytest.mark.parametrize(
    "line",
    [
        'APT::Periodic::Update-Package-Lists "1";',
        'APT::Periodic::Unattended-Upgrade "1";',
        'Unattended-Upgrade::Automatic-Reboot "false";',
    ],
)
def test_apt_runs_unattended_upgrade_daily(apt_config, line):
    assert line in apt_config


def test_bootstrap_writes_every_maintenance_file_and_the_cleanup_command():
    for path in maintenance_units.files():
        assert f" {path} <<'ORA_FILE_END'" in SCRIPT
    command = f"install -m 0750 /dev/stdin {maintenance_units.CLEANUP_COMMAND} <<'ORA_FILE_END'\n"
    assert command + maintenance_units.CLEANUP_SCRIPT.read_text() in SCRIPT
    assert 'need="$need unattended-upgrades"' in SCRIPT


@pytest.mark.parametrize(
    "timer", [*maintenance_units.TIMERS, *maintenance_units.APT_TIMERS, "ora-backup-check.timer"]
)
def test_bootstrap_enables_the_timer(timer):
    enabling = [line.split() for line in SCRIPT.splitlines() if line.startswith("systemctl enable")]
    assert ["systemctl", "enable", "--now", timer] in [[*e[:3], t] for e in enabling for t in e[3:]]


@pytest.mark.parametrize(
    ("reference", "repo"),
    [
        ("redis:7.4", "redis"),
        ("redis@sha256:cd74", "redis"),
        ("qdrant/qdrant:v1.19.1@sha256:1236", "qdrant/qdrant"),
        ("registry.example.net:5000/ora/app:1.2", "registry.example.net:5000/ora/app"),
        ("ora-app:dev-0123456789ab", "ora-app"),
    ],
)
def test_repository_of_a_reference(reference, repo):
    assert repository(reference) == repo


def test_instants_order_across_fraction_lengths():
    stamps = ["2026-11-29T03:00:00.5Z", "2026-11-29T03:00:00.123456789Z", "2026-11-29T03:00:00Z"]
    assert sorted(stamps, key=instant) == [stamps[2], stamps[1], stamps[0]]


def app(n: int, *extra: str) -> Image:
    return Image(f"sha256:app{n}", (f"ora-app:dev-{n}", *extra), f"2026-11-{n:02d}T00:00:00Z")


APPS = [app(n) for n in range(1, 7)]
FOREIGN = Image("sha256:other", ("someone/else:1",), "2020-01-01T00:00:00Z")


def test_keeps_the_used_image_and_the_newest_unused_ones():
    """Deployed 6 (running) after 1..5: 5 and 4 stay for a rollback, 1..3 go."""
    result = plan([*APPS, FOREIGN], used={"sha256:app6"}, stack_used={"sha256:app6"}, keep=2)
    assert set(result.kept) == {"sha256:app6", "sha256:app5", "sha256:app4"}
    assert {i.id for i in result.removed} == {"sha256:app1", "sha256:app2", "sha256:app3"}


def test_after_a_rollback_the_newer_image_counts_as_a_previous_one():
    result = plan(APPS, used={"sha256:app3"}, stack_used={"sha256:app3"}, keep=2)
    assert set(result.kept) == {"sha256:app3", "sha256:app6", "sha256:app5"}


def test_an_image_any_container_uses_stays():
    """A stopped container of another project that runs an old app image keeps it."""
    used = {"sha256:app6", "sha256:app1"}
    result = plan(APPS, used=used, stack_used={"sha256:app6"}, keep=1)
    assert "sha256:app1" in result.kept and "sha256:app5" in result.kept
    assert {i.id for i in result.removed} == {"sha256:app2", "sha256:app3", "sha256:app4"}


def test_other_repositories_are_left_alone():
    old = Image("sha256:old", ("someone/else:0",), "2019-01-01T00:00:00Z")
    result = plan([*APPS, FOREIGN, old], used={"sha256:app6"}, stack_used={"sha256:app6"}, keep=9)
    assert result.removed == ()


def test_an_image_tagged_in_two_repositories_is_judged_by_both():
    shared = Image("sha256:shared", ("ora-app:old", "redis:old"), "2026-01-01T00:00:00Z")
    redis = Image("sha256:redis", ("redis:7.4",), "2026-11-01T00:00:00Z")
    result = plan(
        [*APPS, redis, shared],
        used={"sha256:app6", "sha256:redis"},
        stack_used={"sha256:app6", "sha256:redis"},
        keep=1,
    )
    assert "sha256:shared" in result.kept  # the newest unused of redis
    assert {i.id for i in result.removed} == {f"sha256:app{n}" for n in range(1, 5)}


def test_old_logs_are_rotated_files_past_the_age():
    day = 86400
    now = 100 * day
    files = [
        (Path("/opt/ora/logs/app.log"), 0),  # live, however old
        (Path("/opt/ora/logs/app.log.1"), now - 31 * day),
        (Path("/opt/ora/logs/app.log.2.gz"), now - 40 * day),
        (Path("/opt/ora/logs/app.log.3.gz"), now - 29 * day),  # recent enough
        (Path("/opt/ora/logs/notes.txt"), 0),  # not a rotated log
    ]
    assert old_logs(files, now, 30) == [files[1][0], files[2][0]]
