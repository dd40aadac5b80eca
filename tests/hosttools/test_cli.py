"""The command line: its arguments, refusals, retention, and one run at a time."""

from __future__ import annotations

import os
import signal

import pytest

from infra.hosttools.backup import cli
from infra.hosttools.backup.create import check_name
from infra.hosttools.backup.messages import Die
from infra.hosttools.backup.runner import Result
from tests.hosttools.fakes import FakeRunner, host, main, run_of


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["help"],
        ["--help"],
        ["-h"],
        ["restore"],
        ["create", "a", "b"],
        ["list", "x"],
        ["prune", "x"],
        ["set-password", "x"],
    ],
    ids=str,
)
def test_wrong_arguments_print_the_usage_and_exit_2(argv, tmp_path, capsys):
    runner = FakeRunner()
    assert main(host(tmp_path), runner, *argv) == 2
    assert capsys.readouterr().err == cli.USAGE
    assert runner.calls == []


def test_the_usage_names_every_command_and_setting():
    for word in ("create [NAME]", "list", "rollback NAME", "prune", "check", "set-password"):
        assert f"backup.sh {word}" in cli.USAGE
    assert "RESTIC_REPOSITORY [/opt/ora/backups/restic]" in cli.USAGE


@pytest.mark.parametrize("argv", [["rollback"], ["rollback", "a", "b"]], ids=str)
def test_rollback_needs_exactly_one_name(argv, tmp_path, capsys):
    runner = FakeRunner()
    assert main(host(tmp_path), runner, *argv) == 1
    error = "backup.sh: error: rollback needs exactly one NAME (see: backup.sh list)\n"
    assert capsys.readouterr().err == error
    assert runner.calls == []


@pytest.mark.parametrize(
    "name", ["ora_backup_20250523_123456", "20261128T123456Z", "pre-rollback-x.y-1"]
)
def test_backup_names_that_roll_back(name):
    check_name(name)


@pytest.mark.parametrize("name", ["../etc", "a/b", "x y", "name;rm", "ünï"])
def test_names_refused_before_anything_runs(name, tmp_path, capsys):
    runner = FakeRunner()
    assert main(host(tmp_path), runner, "rollback", name) == 1
    error = f"backup.sh: error: backup name '{name}' must match ^[A-Za-z0-9._-]+$\n"
    assert capsys.readouterr().err.endswith(error)
    assert not runner.ran("restic")  # docker info (the preflight) only
    with pytest.raises(Die):
        check_name(name)


def test_missing_password_file_is_named(tmp_path, capsys):
    missing = str(tmp_path / "nope")
    assert main(host(tmp_path, RESTIC_PASSWORD_FILE=missing), FakeRunner(), "list") == 1
    assert capsys.readouterr().err == (
        f"backup.sh: error: the restic password file {missing} does not exist (set"
        " RESTIC_PASSWORD_FILE)\n"
    )


def test_missing_docker_is_named(tmp_path, capsys):
    env = host(tmp_path)
    (tmp_path / "bin" / "docker").unlink()
    assert main(env, FakeRunner(), "list") == 1
    assert "backup.sh: error: 'docker' is not installed (or not on PATH)" in capsys.readouterr().err


def test_a_bad_health_timeout_is_refused(tmp_path, capsys):
    assert main(host(tmp_path, ORA_BACKUP_HEALTH_TIMEOUT="2m"), FakeRunner(), "prune") == 1
    error = "backup.sh: error: ORA_BACKUP_HEALTH_TIMEOUT must be a number of seconds\n"
    assert capsys.readouterr().err == error


def test_prune_forgets_this_stacks_snapshots_older_than_30_days(tmp_path):
    runner = FakeRunner()
    assert main(host(tmp_path), runner, "prune") == 0
    forget = ["restic", "forget", "--tag", "ora,stack=dev", "--keep-within", "30d", "--prune"]
    assert runner.ran("restic", "forget") == [forget]
    assert runner.ran("restic", "unlock")  # a killed run's stale lock goes first


def test_a_failed_forget_fails_the_run_with_its_status(tmp_path, capsys):
    def answer(argv, options):
        return Result(3) if argv[1] == "forget" else Result(0)

    assert main(host(tmp_path), FakeRunner(answer), "prune") == 3
    assert "backup.sh: command failed: restic forget" in capsys.readouterr().err


def test_check_passes_its_arguments_to_restic(tmp_path, capsys):
    runner = FakeRunner()
    assert main(host(tmp_path), runner, "check", "--read-data-subset=10%") == 0
    assert runner.ran("restic", "check") == [["restic", "check", "--read-data-subset=10%"]]
    repository = tmp_path / "repo"
    said = f"backup.sh: restic check of {repository} passed (--read-data-subset=10%)\n"
    assert capsys.readouterr().err == said


def test_a_second_concurrent_run_is_refused(tmp_path):
    env = host(tmp_path)
    first, _ = run_of(env)
    second, _ = run_of(env)
    with first.cleanup:
        cli.lock(first)
        with second.cleanup, pytest.raises(Die) as refused:
            cli.lock(second)
    staging = tmp_path / "staging"
    assert refused.value.message == (
        f"another backup.sh holds {staging}/.lock; try again when it has finished"
    )
    third, _ = run_of(env)  # the first has ended: its lock is free again
    with third.cleanup:
        cli.lock(third)


def test_the_lock_holder_removes_its_staging_directory(tmp_path):
    run, _ = run_of(host(tmp_path))
    with run.cleanup:
        cli.lock(run)
        (tmp_path / "staging" / "create").mkdir()
    assert not (tmp_path / "staging" / "create").exists()


def test_a_run_in_process_leaves_the_callers_umask_and_signals_as_they_were(tmp_path):
    """Its files are root's alone while it runs (umask 077); the process that called it,
    pytest here, keeps its own umask and signal handlers."""
    before = os.umask(0o022)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        main(host(tmp_path), FakeRunner(), "prune")
        assert os.umask(0o022) == 0o022
        assert {s: signal.getsignal(s) for s in handlers} == handlers
    finally:
        os.umask(before)
