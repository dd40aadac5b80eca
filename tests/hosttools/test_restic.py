"""restic's command lines: the repository URL, the sftp login, what a refusal means."""

from __future__ import annotations

import pytest

from infra.hosttools.backup.messages import Die
from infra.hosttools.backup.restic import classify, newest_id
from infra.hosttools.backup.runner import Result
from infra.hosttools.backup.settings import restic_url
from tests.hosttools.fakes import FakeRunner, host, run_of


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sftp:b@[2001:db8::1]:/srv/ora", "sftp://b@[2001:db8::1]//srv/ora"),
        ("sftp:[::1]:/srv/ora", "sftp://[::1]//srv/ora"),
        ("sftp:b@vault.example.net:/srv/ora", "sftp:b@vault.example.net:/srv/ora"),
        ("s3:https://s3.example.net/bucket", "s3:https://s3.example.net/bucket"),
    ],
)
def test_an_ipv6_sftp_repository_takes_the_url_form(given, used):
    assert restic_url(given) == used


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "key"
    path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    return path


@pytest.mark.parametrize(
    ("repository", "login"),
    [
        ("sftp:b@vault.example.net:/srv/ora", "-l b vault.example.net"),
        ("sftp://b@vault.example.net:2222//srv/ora", "-p 2222 -l b vault.example.net"),
        ("sftp://b@[2001:db8::1]//srv/ora", "-l b 2001:db8::1"),
        ("sftp:vault:/srv/ora", "vault"),
    ],
)
def test_restic_logs_in_to_sftp_with_the_key_file_only(repository, login, key, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("vault ssh-ed25519 AAAA\n")
    env = host(tmp_path, ORA_BACKUP_OFFSITE_SSH_KEY=str(key))
    run, _ = run_of({**env, "ORA_BACKUP_OFFSITE_KNOWN_HOSTS": str(known)})
    ssh = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile={known}"
        f" -o StrictHostKeyChecking=yes {login} -s sftp"
    )
    assert run.restic.argv(repository, "snapshots") == [
        "restic", "-o", f"sftp.command={ssh}", "snapshots"
    ]  # fmt: skip


def test_an_empty_known_hosts_file_keeps_the_first_key_seen(key, tmp_path):
    (tmp_path / "known").write_text("")
    env = host(tmp_path, ORA_BACKUP_OFFSITE_SSH_KEY=str(key))
    run, _ = run_of({**env, "ORA_BACKUP_OFFSITE_KNOWN_HOSTS": str(tmp_path / "known")})
    assert "StrictHostKeyChecking=accept-new" in run.restic.ssh_command("sftp:b@h:/r")


def test_other_repositories_get_no_ssh_command(key, tmp_path):
    run, _ = run_of(host(tmp_path, ORA_BACKUP_OFFSITE_SSH_KEY=str(key)))
    assert run.restic.argv("/opt/ora/backups/restic", "init") == ["restic", "init"]


def test_a_missing_key_fails_where_restic_errors_go(tmp_path):
    missing = tmp_path / "nope"
    run, _ = run_of(host(tmp_path, ORA_BACKUP_OFFSITE_SSH_KEY=str(missing)))
    with pytest.raises(Die, match="missing or unreadable"):
        run.restic.ssh_command("sftp:b@h:/r")
    state = run.restic.state("sftp:b@h:/r", str(tmp_path / "restic-password"))
    assert state.reason == (
        f"cannot open the repository sftp:b@h:/r (backup.sh: error: the off-host SSH key"
        f" {missing} is missing or unreadable (ora:backupOffsiteSshKey))"
    )


def test_an_unreadable_host_is_refused(key, tmp_path):
    run, _ = run_of(host(tmp_path, ORA_BACKUP_OFFSITE_SSH_KEY=str(key)))
    with pytest.raises(Die, match="cannot read the SSH host of the repository"):
        run.restic.ssh_command("sftp:b@h$(x):/r")


@pytest.mark.parametrize(
    ("errors", "kind"),
    [
        ("Fatal: unable to open config file: stat /r/config: no such file or directory", "absent"),
        ("Fatal: unable to open config file: The specified bucket does not exist", "absent"),
        ("Fatal: wrong password or no key found", "wrong-password"),
        ("Fatal: The request signature we calculated does not match", "refused"),
    ],
)
def test_what_restic_said_is_the_repositorys_state(errors, kind):
    assert classify(errors, "r", "/opt/ora/backup.env").kind == kind


def test_refused_s3_credentials_name_the_pulumi_key_never_the_value():
    state = classify("Access Key Id you provided does not exist", "s3:x", "/opt/ora/backup.env")
    assert state.reason == (
        "the S3 server of s3:x refused the credentials in /opt/ora/backup.env"
        " (InvalidAccessKeyId): ora:backupOffsiteS3AccessKeyId = (secret, not shown): the S3"
        " server has no such access key. Fix: pulumi config set --secret"
        " ora:backupOffsiteS3AccessKeyId VALUE, then pulumi up"
    )


def test_ssh_refusals_are_quoted_in_the_reason():
    said = "x\nsubprocess ssh: Permission denied (publickey).\nFatal: unable to open repo\n"
    reason = classify(said, "sftp:b@h:/r", "/e").reason
    assert reason == (
        "cannot open the repository sftp:b@h:/r (subprocess ssh: Permission denied"
        " (publickey). Fatal: unable to open repo)"
    )


def test_an_absent_repository_is_created(tmp_path):
    def answer(argv, options):
        if argv[1:3] == ["cat", "config"]:
            return Result(1, "", "Fatal: unable to open config file: no such file or directory")
        return Result(0)

    runner = FakeRunner(answer)
    run, said = run_of(host(tmp_path), runner)
    run.restic.ensure()
    assert runner.ran("restic", "init") == [["restic", "init"]]
    assert said.getvalue() == f"backup.sh: initialising the restic repository {tmp_path}/repo\n"


def test_the_newest_snapshot_is_found_by_time():
    listed = '[{"id": "b", "time": "2025-02-01T00:00:00Z"}, {"id": "a", "time": "2025-01-01"}]'
    assert newest_id(listed) == "b"
    assert newest_id("null") == ""
