"""The off-host copy of the backups (ora:backupOffsiteRepository, ora:backupOffsiteKnownHosts):
checks of the restic repository URL and of the SFTP server's known_hosts lines.
"""

from __future__ import annotations

import re

from infra.config.checks import Invalid

_KNOWN_HOST = re.compile(
    r"[A-Za-z0-9.,:\[\]*_-]+ (ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*"
)


def known_hosts(text: str) -> str:
    """Empty, or known_hosts lines (HOSTS KEYTYPE BASE64) of the off-host SFTP server."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if any(not _KNOWN_HOST.fullmatch(line) for line in lines):
        raise Invalid(
            "is not a list of known_hosts lines (HOST KEYTYPE BASE64)",
            "use the output of: ssh-keyscan -t ed25519 vault.example.net",
        )
    return "\n".join(lines)


_RESTIC_BACKENDS = ("sftp:", "s3:", "b2:", "azure:", "gs:", "rest:", "rclone:", "swift:")


# The password of a URL's userinfo: scheme://user:password@ (rest:https://…, sftp://…) or
# sftp:user:password@host:/path; backup.sh hides the same in its messages.
_USERINFO_PASSWORD = re.compile(
    r"^(?P<before>(?:[a-z0-9]+:(?:[a-z][a-z0-9+.-]*:)?//|sftp:)[^/@:]*):(?P<password>[^/@]*)@"
)
_LOGINS = {
    "sftp:": "an sftp repository logs in with the key in ora:backupOffsiteSshKey",
    "s3:": "an s3 repository's credentials are ora:backupOffsiteS3AccessKeyId and"
    " ora:backupOffsiteS3SecretAccessKey",
}
_OTHER_LOGIN = (
    "put the credentials in /opt/ora/backup.env (root, 0600), which backup.sh reads after"
    " backup.conf: RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD where the host's restic"
    " reads them (Debian 12's 0.14 does not), else the whole URL as"
    " ORA_BACKUP_OFFSITE_REPOSITORY=rest:https://USER:PASSWORD@HOST/PATH"
)


def without_password(url: str) -> str:
    """`url` with its userinfo password, if any, shown as ***."""
    return _USERINFO_PASSWORD.sub(r"\g<before>:***@", url, count=1)


def restic_repository(text: str) -> str:
    """Empty (no off-host copy) or a remote restic repository URL, safe in a settings file
    (no password: the stack config and backup.conf are not where secrets live)."""
    if _USERINFO_PASSWORD.match(text):
        login = next((v for k, v in _LOGINS.items() if text.startswith(k)), _OTHER_LOGIN)
        raise Invalid("carries a password in the URL", f"remove it; {login}")
    # An IPv6 host comes in brackets (sftp:backup@[2001:db8::1]:/srv/ora); nothing else may.
    plain = re.sub(r"@\[[0-9A-Fa-f:.]+\]", "@host", text, count=1)
    if text and (
        not text.startswith(_RESTIC_BACKENDS) or not re.fullmatch(r"[A-Za-z0-9@:/._~+-]+", plain)
    ):
        raise Invalid(
            "is not a remote restic repository",
            "use e.g. sftp:backup@vault.example.net:/srv/ora, sftp:backup@[2001:db8::1]:/srv/ora"
            " or s3:s3.amazonaws.com/bucket/ora",
        )
    return text
