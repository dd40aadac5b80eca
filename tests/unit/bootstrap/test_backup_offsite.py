"""The off-host SFTP repository's login: a Pulumi secret from config to a root-only file on
the host, never a plain input, argument or rendered file (the program under mocks)."""

import dataclasses

import pytest

from infra import config
from infra.bootstrap import access as host_access
from infra.bootstrap import backup_units
from infra.bootstrap import script as bootstrap
from tests.unit import program

REPOSITORY = "sftp:backup@vault.example.net:/srv/ora"
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAAtest-offsite-key-0123456789\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
SECRET_LINE = KEY.splitlines()[1]
KNOWN = "vault.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOffsiteHostKey0123456789"
OFFSITE = program.evaluate(
    "prod",
    {"backupOffsiteRepository": REPOSITORY, "backupOffsiteKnownHosts": KNOWN},
    {**program.PROD_SECRETS, "backupOffsiteSshKey": KEY},
)
WRITER = next(r for r in OFFSITE.resources if r.name == "host-backup-offsite-key")


def test_the_key_reaches_the_host_only_on_stdin_as_a_secret():
    assert program.is_secret(WRITER.inputs["stdin"])
    assert WRITER.plain("stdin") == KEY + "\n"  # OpenSSH wants the final newline


def test_no_input_holds_the_key_unless_it_is_marked_secret():
    leaks = [
        (r.name, key)
        for r in OFFSITE.resources
        for key, value in r.inputs.items()
        if program.contains(program.unwrap(value), SECRET_LINE) and not program.is_secret(value)
    ]
    assert leaks == []


@pytest.mark.parametrize("field", ["create", "delete"])
def test_the_key_file_commands_name_the_path_not_the_key(field):
    text = WRITER.plain(field)
    assert backup_units.OFFSITE_SSH_KEY_FILE in text
    assert SECRET_LINE not in text
    assert not program.is_secret(WRITER.inputs[field])


def test_the_key_file_is_written_root_only_and_whole():
    create = WRITER.plain("create")
    assert "umask 077" in create and "chmod 0600" in create
    assert f"mv -f {backup_units.OFFSITE_SSH_KEY_FILE}.new {backup_units.OFFSITE_SSH_KEY_FILE}" in (
        create
    )


def test_a_changed_key_replaces_the_file():
    assert program.is_secret(WRITER.inputs["triggers"])
    assert WRITER.plain("triggers") == [KEY]


def test_no_key_no_writer():
    assert not [r for r in program.evaluate("prod").resources if "offsite-key" in r.name]


PROD = config.offline("prod")
WITH_SFTP = dataclasses.replace(
    PROD, backup_offsite_repository=REPOSITORY, backup_offsite_known_hosts=KNOWN
)


def test_settings_name_the_key_file_and_pinned_host_keys():
    text = backup_units.settings(WITH_SFTP)
    assert f"ORA_BACKUP_OFFSITE_SSH_KEY={backup_units.OFFSITE_SSH_KEY_FILE}\n" in text
    assert f"ORA_BACKUP_OFFSITE_KNOWN_HOSTS={backup_units.OFFSITE_KNOWN_HOSTS_FILE}\n" in text
    files = backup_units.files(WITH_SFTP)
    assert files[backup_units.OFFSITE_KNOWN_HOSTS_FILE] == KNOWN + "\n"
    assert f" {backup_units.OFFSITE_KNOWN_HOSTS_FILE} <<'ORA_FILE_END'" in bootstrap.script(
        WITH_SFTP
    )


def test_an_s3_repository_gets_no_ssh_settings():
    s3 = dataclasses.replace(PROD, backup_offsite_repository="s3:s3.amazonaws.com/b/ora")
    assert "SSH_KEY" not in backup_units.settings(s3)


def problems(raw, secrets_set=frozenset(program.PROD_SECRETS)):
    stack_raw, _ = config.read_stack_file("prod")
    with pytest.raises(config.ConfigError) as caught:
        config.parse(
            "prod", {**stack_raw, **raw}, secrets_set=secrets_set, verify_certificate=False
        )
    return str(caught.value)


def test_an_sftp_repository_without_its_key_is_refused_by_name():
    message = problems({"backupOffsiteRepository": REPOSITORY})
    assert "ora:backupOffsiteSshKey = <unset>" in message
    assert "sftp" in message
    assert "pulumi config set --secret ora:backupOffsiteSshKey" in message


def test_bad_known_hosts_are_refused_with_the_fix():
    message = problems(
        {"backupOffsiteKnownHosts": "vault.example.net ssh-dss AAAA"},
        frozenset({*program.PROD_SECRETS, "backupOffsiteSshKey"}),
    )
    assert "ora:backupOffsiteKnownHosts = 'vault.example.net ssh-dss AAAA'" in message
    assert "ssh-keyscan" in message


def test_the_bootstrap_keeps_the_key_file_root_only():
    assert backup_units.OFFSITE_SSH_KEY_FILE in host_access.ROOT_ONLY_FILES
    steps = host_access.directory_steps(PROD)
    assert f"chown root:root {backup_units.OFFSITE_SSH_KEY_FILE}; chmod 0600" in steps


@pytest.mark.parametrize(
    "repository",
    ["sftp:backup@[2001:db8::1]:/srv/ora", "sftp://backup@[2001:db8::1]:2222//srv/ora"],
)
def test_an_ipv6_sftp_host_is_accepted_and_reaches_the_settings(repository):
    stack_raw, _ = config.read_stack_file("prod")
    raw = {**stack_raw, "backupOffsiteRepository": repository}
    secrets_set = frozenset({*program.PROD_SECRETS, "backupOffsiteSshKey"})
    parsed = config.parse("prod", raw, secrets_set=secrets_set, verify_certificate=False)
    assert parsed.backup_offsite_repository == repository
    assert f"ORA_BACKUP_OFFSITE_REPOSITORY={repository}\n" in backup_units.settings(parsed)


S3 = "s3:s3.eu-central-1.amazonaws.com/ora-backups/prod"
S3_ID = "AKIAEXAMPLEOFFSITE01"
S3_SECRET = "wJalr/XUtnFEMI+K7MDENG$(reboot)'bPxRfiCYEXAMPLEKEY"  # shell-hostile on purpose
WITH_S3 = program.evaluate(
    "prod",
    {"backupOffsiteRepository": S3},
    {
        **program.PROD_SECRETS,
        "backupOffsiteS3AccessKeyId": S3_ID,
        "backupOffsiteS3SecretAccessKey": S3_SECRET,
    },
)
S3_WRITER = next(r for r in WITH_S3.resources if r.name == "host-backup-offsite-s3")


def test_the_s3_credentials_reach_the_host_only_on_stdin_as_a_secret():
    assert program.is_secret(S3_WRITER.inputs["stdin"])
    assert program.is_secret(S3_WRITER.inputs["triggers"])
    assert S3_WRITER.plain("stdin") == backup_units.s3_credentials(S3_ID, S3_SECRET)


@pytest.mark.parametrize("value", [S3_ID, S3_SECRET])
def test_no_input_holds_an_s3_credential_unless_it_is_marked_secret(value):
    leaks = [
        (r.name, key)
        for r in WITH_S3.resources
        for key, raw in r.inputs.items()
        if program.contains(program.unwrap(raw), value) and not program.is_secret(raw)
    ]
    assert leaks == []


@pytest.mark.parametrize("field", ["create", "delete"])
def test_the_credentials_file_commands_name_the_path_only(field):
    text = S3_WRITER.plain(field)
    assert backup_units.CREDENTIALS_FILE in text
    assert S3_ID not in text and S3_SECRET not in text
    assert "umask 077" in S3_WRITER.plain("create") and "chmod 0600" in S3_WRITER.plain("create")


def test_the_credentials_file_is_kept_root_only():
    assert backup_units.CREDENTIALS_FILE in host_access.ROOT_ONLY_FILES


def test_the_sourced_credentials_give_back_the_exact_values(tmp_path):
    """backup.sh sources the file with `set -a`: quoting keeps every character, runs nothing."""
    import subprocess

    env_file = tmp_path / "backup.env"
    env_file.write_text(backup_units.s3_credentials(S3_ID, S3_SECRET))
    shown = subprocess.run(
        [
            "bash",
            "-c",
            'set -a; . "$1"; printf "%s\\n%s" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"',
            "_",
            str(env_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == f"{S3_ID}\n{S3_SECRET}"


@pytest.mark.parametrize(
    "missing", ["backupOffsiteS3AccessKeyId", "backupOffsiteS3SecretAccessKey"]
)
def test_an_s3_repository_without_its_credentials_is_refused_by_name(missing):
    secrets = {
        *program.PROD_SECRETS,
        "backupOffsiteS3AccessKeyId",
        "backupOffsiteS3SecretAccessKey",
    }
    message = problems({"backupOffsiteRepository": S3}, frozenset(secrets - {missing}))
    assert (
        f"ora:{missing} = <unset>: is required because ora:backupOffsiteRepository is an s3:"
        in (message)
    )
    assert f"pulumi config set --secret ora:{missing}" in message


def test_s3_credentials_without_an_s3_repository_write_nothing():
    plain = program.evaluate(
        "prod",
        {},
        {
            **program.PROD_SECRETS,
            "backupOffsiteS3AccessKeyId": S3_ID,
            "backupOffsiteS3SecretAccessKey": S3_SECRET,
        },
    )
    assert not [r for r in plain.resources if "offsite-s3" in r.name]


def test_no_s3_credentials_no_writer():
    assert not [r for r in OFFSITE.resources if "offsite-s3" in r.name]
