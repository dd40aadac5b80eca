"""Rules across sections: keys Pulumi.yaml does not declare, and which secrets a stack
needs, given its other settings. Each broken rule is one problem naming the key.

The other cross-section rules live with their theme: a provided certificate in
certificates.py, the apiKeys value in apikeys.py, what a target can honour in
capabilities.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping

from infra.config.checks import Invalid, secret_fix
from infra.config.reader import Reader
from infra.config.types import StackConfig

# Secrets the program cannot run without; generated in dev, chosen by an operator in prod.
CORE_SECRETS = ("redisPassword", "qdrantApiKey", "secretKey", "backupPassword", "apiKeys")
# The off-host s3: repository's credentials, written to the host's backup.env.
S3_SECRETS = ("backupOffsiteS3AccessKeyId", "backupOffsiteS3SecretAccessKey")
MIN_SECRET_LENGTH = 16
# The app refuses a SECRET_KEY shorter than 32 characters (app/ora/settings.py).
MIN_LENGTH = {"secretKey": 32}
# Stacks that .github/workflows/pull-request.yml previews: its preview job holds their
# passphrase, so it could decrypt any secret of theirs (tests/unit/test_workflows.py).
PREVIEWED_STACKS = ("prod",)

_BECAUSE = {
    "smtpPassword": "is required because ora:smtpUser is set",
    "backupOffsiteSshKey": "is required because ora:backupOffsiteRepository is an sftp: repository",
    "grafanaAdminPassword": "is required while ora:grafana is on and generateSecrets is false",
    **{
        k: "is required because ora:backupOffsiteRepository is an s3: repository"
        for k in S3_SECRETS
    },
}


def reject_unknown_keys(r: Reader, raw: Mapping[str, str], declared: Collection[str]) -> None:
    for key in sorted(set(raw) - set(declared)):
        near = difflib.get_close_matches(key, declared, n=1)
        fix = f"did you mean ora:{near[0]}?" if near else "see the keys declared in Pulumi.yaml"
        r.fail(key, repr(raw[key]), Invalid("is not a key this project declares", fix))


def required_secrets(config: StackConfig) -> list[str]:
    """The secrets the stack must have set, given its other settings."""
    # Swarm runs no backups yet (capabilities.py): nothing there reads backupPassword.
    unread = {"backupPassword"} if config.swarm.enabled else set()
    required = [] if config.generate_secrets else [k for k in CORE_SECRETS if k not in unread]
    if config.service.smtp_user:
        required.append("smtpPassword")
    if config.backup_offsite_repository.startswith("sftp:") and config.access.bootstrap:
        required.append("backupOffsiteSshKey")
    if config.backup_offsite_repository.startswith("s3:") and config.access.bootstrap:
        required += list(S3_SECRETS)
    grafana = config.monitoring.enabled and config.monitoring.grafana
    if grafana and not config.generate_secrets:
        required.append("grafanaAdminPassword")
    return required


def check_secrets(
    r: Reader, config: StackConfig, lengths: Mapping[str, int], plaintext: frozenset[str]
) -> None:
    for key in sorted(plaintext):
        shown = "<plain text, not shown>"
        r.fail(key, shown, Invalid("is stored in plain text in the stack file", secret_fix(key)))
    if "sshPrivateKey" in config.secrets_set and config.stack in PREVIEWED_STACKS:
        why = Invalid(
            f"is set in stack {config.stack}, whose passphrase the pull request workflow's "
            "preview job holds: the code of an approved pull request could decrypt it",
            f"pulumi config rm ora:sshPrivateKey --stack {config.stack}; the deploy job logs "
            "in with DEPLOY_SSH_KEY through its SSH agent",
        )
        r.fail("sshPrivateKey", "<secret, not shown>", why)
    for key in required_secrets(config):
        if key not in config.secrets_set:
            why = "is required and generateSecrets is false" if key in CORE_SECRETS else ""
            r.fail(key, "<unset>", Invalid(why or _BECAUSE[key], secret_fix(key)))
    for key in CORE_SECRETS:
        if key == "apiKeys":
            continue  # a list of keys, each checked by apikeys.check
        length, minimum = lengths.get(key), MIN_LENGTH.get(key, MIN_SECRET_LENGTH)
        if length is not None and length < minimum:
            too_short = Invalid(f"is shorter than {minimum} characters", secret_fix(key))
            r.fail(key, f"<secret, {length} characters>", too_short)
