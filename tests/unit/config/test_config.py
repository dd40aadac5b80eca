"""Bad input is rejected before anything is touched, with the key, the value and the fix."""

import dataclasses
import datetime as dt

import pytest

from infra import config
from tests.unit import certs, program

DEV = program.stack_values("dev")


def problems(stack="dev", raw=None, **kwargs):
    with pytest.raises(config.ConfigError) as caught:
        config.parse(stack, {**DEV, **(raw or {})}, **kwargs)
    return str(caught.value)


# (overrides, key named, value shown, words of the fix)
BAD_VALUES = [
    ({"domain": "ora..example.com"}, "ora:domain", "'ora..example.com'", "e.g. ora.example.com"),
    ({"domain": "exa mple"}, "ora:domain", "'exa mple'", "dot-separated labels"),
    ({"httpsPort": "70000"}, "ora:httpsPort", "'70000'", "from 1 to 65535"),
    ({"httpPort": "8443"}, "ora:httpsPort", "8443", "two different ports"),
    ({"appReplicas": "0"}, "ora:appReplicas", "'0'", "from 1 to 16"),
    ({"appReplicas": "two"}, "ora:appReplicas", "'two'", "whole number"),
    ({"tlsMode": "letsencrypt"}, "ora:tlsMode", "'letsencrypt'", "self-signed, provided, acme"),
    ({"tlsMode": "acme"}, "ora:bootstrapHost", "'false'", "or use provided or self-signed"),
    ({"tlsMode": "acme"}, "ora:domain", "'localhost'", "set a public DNS name"),
    ({"tlsMode": "acme"}, "ora:acmeEmail", "''", "e.g. ops@example.com"),
    *[
        ({"tlsMode": "acme", "acmeServer": url}, "ora:acmeServer", repr(url), "acme-v02.api")
        for url in (
            "https://acme.example/dir?x=$(touch /tmp/PWNED)",
            "https://acme.example/dir?x='a'",
            "https://acme.example/dir;reboot",
            "https://acme.example/d ir",
            "https://acme.example/dir`id`",
            "http://acme.example/dir",
            "https:///directory",
            "https://acme.example:port/dir",
            "acme.example/directory",
        )
    ],
    ({"appMemory": "512 MB"}, "ora:appMemory", "'512 MB'", "e.g. 512m or 1g"),
    ({"redisMemory": "8m"}, "ora:redisMemory", "'8m'", "at least 32m"),
    ({"logLevel": "VERBOSE"}, "ora:logLevel", "'VERBOSE'", "DEBUG, INFO, WARNING"),
    ({"maintenance": "yes"}, "ora:maintenance", "'yes'", "true or false"),
    ({"rateLimit": "10/s"}, "ora:rateLimit", "'10/s'", "e.g. 10r/s"),
    ({"connLimit": "0"}, "ora:connLimit", "'0'", "from 1 to 10000"),
    ({"edgeWorkers": "0"}, "ora:edgeWorkers", "'0'", "use auto or a whole number from 1 to 64"),
    ({"edgeWorkers": "all"}, "ora:edgeWorkers", "'all'", "use auto or a whole number"),
    ({"alertThreshold": "150"}, "ora:alertThreshold", "'150'", "from 1 to 100"),
    ({"alertErrorRate": "0"}, "ora:alertErrorRate", "'0'", "from 1 to 100"),
    ({"alertResponseTime": "2s"}, "ora:alertResponseTime", "'2s'", "from 0.05 to 60"),
    ({"alertResponseTime": "0"}, "ora:alertResponseTime", "'0'", "e.g. 2"),
    ({"alertQueueDepth": "0"}, "ora:alertQueueDepth", "'0'", "from 1 to"),
    ({"alertDeadLetters": "-1"}, "ora:alertDeadLetters", "'-1'", "whole number"),
    ({"alertJobFailureRate": "0"}, "ora:alertJobFailureRate", "'0'", "from 1 to 100"),
    ({"alertJobFailureRate": "50%"}, "ora:alertJobFailureRate", "'50%'", "whole number"),
    ({"alertLogFloorBytes": "1k"}, "ora:alertLogFloorBytes", "'1k'", "whole number"),
    (
        {"alertEmail": "ops@example.com, nobody"},
        "ora:alertEmail",
        "'ops@example.com, nobody'",
        "e.g. ops@example.com",
    ),
    ({"smtpHost": "smtp.example.com"}, "ora:alertEmail", "''", "pulumi config set ora:alertEmail"),
    ({"monitoring": "on"}, "ora:monitoring", "'on'", "true or false"),
    ({"runbookUrl": "x.example/r.md"}, "ora:runbookUrl", "'x.example/r.md'", "https URL"),
    ({"runbookUrl": "https://x.example/r#a"}, "ora:runbookUrl", "'https://x.example/r#a'", "#"),
    ({"runbookUrl": "https://x.io/{{x}}"}, "ora:runbookUrl", "'https://x.io/{{x}}'", "e.g."),
    ({"prometheusRetention": "15 days"}, "ora:prometheusRetention", "'15 days'", "e.g. 15d"),
    ({"prometheusRetentionSize": "2G"}, "ora:prometheusRetentionSize", "'2G'", "e.g. 2GB"),
    ({"monitoringTiming": "fast"}, "ora:monitoringTiming", "'fast'", "standard, test"),
    ({"grafana": "yes"}, "ora:grafana", "'yes'", "true"),
    ({"smtpCaCertificate": "ca.pem"}, "ora:smtpCaCertificate", "'ca.pem'", "PEM"),
    ({"bindAddress": "localhost"}, "ora:bindAddress", "'localhost'", "127.0.0.1"),
    ({"nginxImage": "nginx"}, "ora:nginxImage", "'nginx'", "name:tag@sha256"),
    ({"backupTextfileDir": "textfiles"}, "ora:backupTextfileDir", "'textfiles'", "e.g. /var/lib"),
    (
        {"backupOffsiteRepository": "/mnt/usb"},
        "ora:backupOffsiteRepository",
        "'/mnt/usb'",
        "e.g. sftp:backup@",
    ),
    (
        {"backupOffsiteRepository": "sftp:a@b:/x;reboot"},
        "ora:backupOffsiteRepository",
        "'sftp:a@b:/x;reboot'",
        "remote restic repository",
    ),
    (
        {"backupOffsiteRepository": "sftp:a@[b;reboot]:/x"},
        "ora:backupOffsiteRepository",
        "'sftp:a@[b;reboot]:/x'",
        "sftp:backup@[2001:db8::1]:/srv/ora",
    ),
    ({"domian": "ora.example.com"}, "ora:domian", "'ora.example.com'", "did you mean ora:domain?"),
    ({"bootstrapHost": "true"}, "ora:host", "''", "pulumi config set ora:host HOST"),
    (
        {"bootstrapHost": "true", "host": "h.example.net", "deployPublicKey": ""},
        "ora:deployPublicKey",
        "''",
        "pulumi config set ora:deployPublicKey",
    ),
    (
        {"deployPublicKey": "ssh-dss AAAAB3Nz x"},
        "ora:deployPublicKey",
        "'ssh-dss AAAAB3Nz x'",
        ".pub file's line",
    ),
    (
        {"deployPublicKey": "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ"},
        "ora:deployPublicKey",
        "'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ'",
        "one key a line",
    ),
    ({"searchRequiresKey": "maybe"}, "ora:searchRequiresKey", "'maybe'", "true or false"),
    ({"diagnosticJobs": "on"}, "ora:diagnosticJobs", "'on'", "true or false"),
    ({"writeRatePerMinute": "0"}, "ora:writeRatePerMinute", "'0'", "from 1 to 100000"),
    ({"host": "ora.example.net"}, "ora:appImage", "''", "pulumi config set ora:appImage"),
    (
        {"host": "ora.example.net", "appImage": "ghcr.io/x/ora:1.0"},
        "ora:appImage",
        "'ghcr.io/x/ora:1.0'",
        "name@sha256:<64 hex>",
    ),
]


@pytest.mark.parametrize(
    ("raw", "key", "shown", "fix"), BAD_VALUES, ids=[c[1] + "=" + c[2] for c in BAD_VALUES]
)
def test_bad_value_names_key_value_and_fix(raw, key, shown, fix):
    message = problems(raw=raw)
    assert f"{key} = {shown}:" in message
    assert fix in message


def test_prod_without_secrets_names_each_missing_secret():
    raw, _ = config.read_stack_file("prod")
    with pytest.raises(config.ConfigError) as caught:
        config.parse("prod", raw)
    for key in (
        "redisPassword",
        "qdrantApiKey",
        "secretKey",
        "backupPassword",
        "smtpPassword",
        "tlsCertificate",
        "apiKeys",
    ):
        assert f"ora:{key} = <unset>" in str(caught.value)
        assert f"pulumi config set --secret ora:{key}" in str(caught.value)


def test_secret_in_plain_text_is_rejected_without_showing_it():
    message = problems(
        secrets_set=frozenset({"redisPassword"}), plaintext_secrets=frozenset({"redisPassword"})
    )
    assert "ora:redisPassword = <plain text, not shown>" in message
    assert "--secret" in message


@pytest.mark.parametrize(
    ("key", "length", "minimum"), [("redisPassword", 5, 16), ("secretKey", 31, 32)]
)
def test_short_secret_is_rejected_showing_only_its_length(key, length, minimum):
    message = problems(secrets_set=frozenset({key}), secret_lengths={key: length})
    assert (
        f"ora:{key} = <secret, {length} characters>: is shorter than {minimum} characters"
        in message
    )


KEY = "k" * 32
# (ora:apiKeys value, words of the reason); the message never shows a key.
BAD_API_KEYS = [
    ("", "lists no client"),
    ("ingest", "is not NAME:SCOPES:KEY"),
    (f"in gest:read:{KEY}", "entry 1 of 2 is not NAME:SCOPES:KEY"),  # the space splits it
    (f"ingest:wrte:{KEY}", "entry 1 of 1 ('ingest'): unknown scopes wrte"),
    (f"ingest::{KEY}", "unknown scopes (none)"),
    ("ingest:read:short", "the key is shorter than 32 characters"),
    (f"a:read:{KEY} a:write:{'m' * 32}", "entry 2 of 2 ('a'): the name or the key is listed twice"),
    (f"a:read:{KEY} b:write:{KEY}", "listed twice"),
    (f"b@d:read:{KEY}", "the name must match"),
]


@pytest.mark.parametrize(("spec", "reason"), BAD_API_KEYS)
def test_bad_api_keys_name_the_entry_never_the_key(spec, reason):
    message = problems(secrets_set=frozenset({"apiKeys"}), api_keys=spec)
    assert "ora:apiKeys = <secret>:" in message
    assert reason in message
    assert "pulumi config set --secret ora:apiKeys" in message
    assert KEY not in message


def test_good_api_keys_are_accepted():
    spec = f"ui:read:{KEY} ingest:read,write:{'w' * 40}\nops:read,write,admin:{'a' * 32}"
    config.parse("dev", DEV, secrets_set=frozenset({"apiKeys"}), api_keys=spec)


PROVIDED = {"tlsMode": "provided", "domain": "ora.example.com"}


def _with_pair(cert, key, **kwargs):
    return problems(
        raw=PROVIDED,
        secrets_set=frozenset({"tlsCertificate", "tlsPrivateKey"}),
        pem={"tlsCertificate": cert, "tlsPrivateKey": key},
        **kwargs,
    )


def test_provided_certificate_that_expired():
    cert, key = certs.make_pair("ora.example.com", days_valid=10, days_ago=20)
    assert "ora:tlsCertificate = <certificate>: expired on" in _with_pair(cert, key)


def test_provided_certificate_with_a_foreign_key():
    cert, _key = certs.make_pair("ora.example.com")
    assert "does not match tlsPrivateKey" in _with_pair(cert, certs.other_key())


def test_provided_certificate_for_another_domain():
    cert, key = certs.make_pair("other.example.com")
    assert "does not cover the domain 'ora.example.com'" in _with_pair(cert, key)


def test_provided_certificate_that_is_not_pem():
    _cert, key = certs.make_pair("ora.example.com")
    assert "is not a PEM certificate" in _with_pair("not a certificate", key)


def test_provided_mode_without_certificate():
    assert "ora:tlsCertificate = <unset>: is required when tlsMode is provided" in problems(
        raw=PROVIDED
    )


def test_valid_provided_certificate_is_accepted():
    cert, key = certs.make_pair("ora.example.com")
    parsed = config.parse(
        "dev",
        {**DEV, **PROVIDED},
        secrets_set=frozenset({"tlsCertificate", "tlsPrivateKey"}),
        pem={"tlsCertificate": cert, "tlsPrivateKey": key},
        now=dt.datetime.now(dt.UTC),
    )
    assert parsed.edge.tls_mode == "provided"


def test_every_problem_is_reported_at_once():
    message = problems(raw={"domain": "-bad-", "appReplicas": "0", "logLevel": "LOUD"})
    assert "3 configuration errors" in message


def test_config_error_stops_the_program_before_any_resource():
    with pytest.raises(Exception, match=r"ora:appReplicas = '0'") as caught:
        program.evaluate("dev", overrides={"appReplicas": "0"})
    assert "nothing was changed" in str(caught.value)


def test_every_stack_file_parses():
    for stack in config.known_stacks():
        assert config.offline(stack).stack == stack


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.offline("dev").edge.domain = "x"  # type: ignore[misc]


def test_monitoring_defaults_and_recipients():
    monitoring = config.parse(
        "dev", {**DEV, "alertEmail": "a@example.com, b@example.org"}
    ).monitoring
    assert monitoring.enabled is True
    assert (monitoring.error_rate_percent, monitoring.response_time_seconds) == (10, 2.0)
    assert monitoring.log_growth_percent == 50
    assert monitoring.emails == ("a@example.com", "b@example.org")
    assert (monitoring.retention, monitoring.retention_size) == ("15d", "2GB")


def test_prod_runs_more_than_one_app_replica():
    # nginx retries a failed idempotent request on another replica: prod must have one.
    assert config.offline("prod").sizes.app_replicas >= 2


@pytest.mark.parametrize(
    "url",
    [
        "https://acme-v02.api.letsencrypt.org/directory",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
        "https://pebble:14000/dir",
        "https://[2001:db8::1]:14000/dir",
    ],
)
def test_acme_directory_urls_are_accepted(url):
    raw = {"tlsMode": "acme", "acmeEmail": "ops@example.com", "acmeServer": url}
    assert "ora:acmeServer" not in problems(raw=raw)


# A password in an off-host repository URL would sit in plain stack config and backup.conf.
PASSWORD_URLS = {
    "rest": ("rest:https://ora:s3cret-pw@backup.example.net/ora", "/opt/ora/backup.env"),
    "rest-port": ("rest:http://ora:s3cret-pw@10.0.0.9:8000/", "RESTIC_REST_PASSWORD"),
    "sftp-url": ("sftp://backup:s3cret-pw@vault.example.net:22//srv", "backupOffsiteSshKey"),
    "sftp": ("sftp:backup:s3cret-pw@vault.example.net:/srv/ora", "backupOffsiteSshKey"),
    "s3": ("s3:https://key:s3cret-pw@s3.example.net/b", "backupOffsiteS3SecretAccessKey"),
}


@pytest.mark.parametrize(("url", "fix"), PASSWORD_URLS.values(), ids=list(PASSWORD_URLS))
def test_a_password_in_the_offsite_repository_url_is_refused_unshown(url, fix):
    message = problems(raw={"backupOffsiteRepository": url})
    shown = url.replace("s3cret-pw", "***")
    assert f"ora:backupOffsiteRepository = {shown!r}: carries a password" in message
    assert fix in message
    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    "url",
    [
        "sftp:backup@vault.example.net:/srv/ora",
        "sftp:backup@[2001:db8::1]:/srv/ora",
        "sftp://backup@[2001:db8::1]:22//srv/ora",
        "s3:s3.amazonaws.com/bucket/ora",
        "s3:http://10.0.0.9:9000/bucket",
        "rest:https://ora@backup.example.net/ora",
    ],
)
def test_offsite_repository_urls_without_a_password_are_accepted(url):
    assert config.parse("dev", {**DEV, "backupOffsiteRepository": url}).backup_offsite_repository


# -- who logs in to the host (README, "CI/CD and who can reach prod") ---------------------
HOST = {"bootstrapHost": "true", "host": "h.example.net", "appImage": "x/ora@sha256:" + "0" * 64}
CI_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOV5wi8x9MvcTN7M29vZ/m5rq/M2YXFfgSnqNaG5uj+H ci"


@pytest.mark.parametrize(
    ("stack", "raw", "shown", "fix"),
    [
        ("prod", {"bootstrapUser": "root"}, "'root'", "pulumi config set ora:bootstrapUser NAME"),
        ("staging", {"bootstrapUser": "deploy"}, "'deploy'", "a separate user with"),
        ("staging", {"sshUser": "ops", "bootstrapUser": "ops"}, "'ops'", "passwordless sudo"),
    ],
    ids=["root-in-prod", "the-deploy-user", "the-ssh-user"],
)
def test_bootstrap_user_is_a_sudo_user_apart_from_the_deploy_user(stack, raw, shown, fix):
    message = problems(stack, {**HOST, "ciPublicKey": CI_KEY, **raw})
    assert f"ora:bootstrapUser = {shown}:" in message
    assert fix in message


def test_root_may_bootstrap_a_stack_other_than_prod():
    parsed = config.parse("staging", {**DEV, **HOST, "ciPublicKey": CI_KEY})
    assert parsed.access.bootstrap_user == "root"


def test_ci_key_alone_lets_the_bootstrap_install_a_login():
    parsed = config.parse("staging", {**DEV, **HOST, "ciPublicKey": CI_KEY})
    assert (parsed.access.deploy_keys, parsed.access.ci_keys) == ((), (CI_KEY,))


def test_bad_ci_key_names_key_value_and_fix():
    message = problems(raw={"ciPublicKey": "ssh-dss AAAAB3Nz x"})
    assert "ora:ciPublicKey = 'ssh-dss AAAAB3Nz x':" in message
    assert ".pub file's line" in message


SSH_KEY_VALUE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"


@pytest.mark.parametrize("stack", config.PREVIEWED_STACKS)
def test_ssh_private_key_is_refused_where_the_preview_holds_the_passphrase(stack):
    secrets = {**program.PROD_SECRETS, "sshPrivateKey": SSH_KEY_VALUE}
    with pytest.raises(Exception, match="ora:sshPrivateKey") as caught:
        program.evaluate(stack, secrets=secrets)
    message = str(caught.value)
    assert "ora:sshPrivateKey = <secret, not shown>: is set in stack" in message
    assert f"pulumi config rm ora:sshPrivateKey --stack {stack}" in message
    assert "b3BlbnNzaC1rZXkt" not in message


def test_ssh_private_key_is_accepted_in_a_stack_nobody_previews():
    assert "dev" not in config.PREVIEWED_STACKS
    assert "sshPrivateKey" in config.parse("dev", DEV, frozenset({"sshPrivateKey"})).secrets_set
