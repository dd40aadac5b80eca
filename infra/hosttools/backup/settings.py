"""The run's settings: the host's settings files, then the environment, read once.

backup.conf (stack, off-host repository, metric directory) and backup.env (the off-host
backend's credentials) hold NAME=VALUE lines, shell-quoted; what they set overrides the
environment and reaches restic and docker too, as it did when the script sourced them.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import names
from .messages import Die

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
# restic 0.14 cuts sftp:USER@HOST:PATH at the first colon; an IPv6 host needs the URL form.
_SFTP_IPV6 = re.compile(r"sftp:([^/@]+@)?(\[[0-9A-Fa-f:.]+\]):(.*)", re.S)


@dataclass(frozen=True)
class Settings:
    stack: str
    repository: str
    password_file: str
    staging: str
    health_timeout: str  # checked by the preflight, which says which variable is wrong
    textfile_dir: str
    offsite: str  # "": no off-host copy
    offsite_password_file: str
    offsite_ssh_key: str
    offsite_known_hosts: str
    credentials_file: str
    failpoint: str  # ORA_BACKUP_FAILPOINT=restore:VOLUME (tests only)
    env: Mapping[str, str] = field(repr=False)  # the environment of restic and docker


def restic_url(repository: str) -> str:
    """The repository as restic reads it: sftp:USER@[IPV6]:PATH becomes
    sftp://USER@[IPV6]/PATH; anything else is unchanged."""
    found = _SFTP_IPV6.fullmatch(repository)
    if not found:
        return repository
    return f"sftp://{found[1] or ''}{found[2]}/{found[3]}"


def assignments(text: str, path: str = "settings") -> dict[str, str]:
    """NAME=VALUE lines (shell quoting, # comments): their values, taken as data."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError as error:
        raise Die(f"cannot read the settings file {path}: {error}") from None
    values = {}
    for word in words:
        found = _ASSIGNMENT.fullmatch(word)
        if not found:
            raise Die(f"cannot read the settings file {path}: {word!r} is not NAME=VALUE")
        values[found[1]] = found[2]
    return values


def _read(path: str) -> dict[str, str]:
    if not os.access(path, os.R_OK):
        return {}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return assignments(handle.read(), path)
    except OSError as error:
        raise Die(f"cannot read the settings file {path}: {error.strerror}") from None


def load(environ: Mapping[str, str]) -> Settings:
    """The settings files over `environ`, then the defaults for what is unset or empty."""
    env = dict(environ)
    credentials = env.get("ORA_BACKUP_CREDENTIALS") or names.CREDENTIALS_FILE
    for path in (env.get("ORA_BACKUP_SETTINGS") or names.SETTINGS_FILE, credentials):
        env.update(_read(path))
    password_file = env.get("RESTIC_PASSWORD_FILE") or names.PASSWORD_FILE
    repository = restic_url(env.get("RESTIC_REPOSITORY") or names.REPOSITORY)
    env["RESTIC_REPOSITORY"] = repository
    env["RESTIC_PASSWORD_FILE"] = password_file
    # The password file is the only source of the password: never a value in the environment.
    env.pop("RESTIC_PASSWORD", None)
    env.pop("RESTIC_PASSWORD_COMMAND", None)
    return Settings(
        stack=env.get("ORA_STACK") or "prod",
        repository=repository,
        password_file=password_file,
        staging=env.get("ORA_BACKUP_STAGING") or names.STAGING_DIR,
        health_timeout=env.get("ORA_BACKUP_HEALTH_TIMEOUT") or names.HEALTH_TIMEOUT,
        textfile_dir=env.get("ORA_BACKUP_TEXTFILE_DIR") or names.TEXTFILE_DIR,
        offsite=restic_url(env.get("ORA_BACKUP_OFFSITE_REPOSITORY", "")),
        offsite_password_file=env.get("ORA_BACKUP_OFFSITE_PASSWORD_FILE") or password_file,
        offsite_ssh_key=env.get("ORA_BACKUP_OFFSITE_SSH_KEY", ""),
        offsite_known_hosts=env.get("ORA_BACKUP_OFFSITE_KNOWN_HOSTS", ""),
        credentials_file=credentials,
        failpoint=env.get("ORA_BACKUP_FAILPOINT", ""),
        env=env,
    )
