"""restic's command lines: which repository, which password file, and for an sftp:
repository the ssh command that logs in with the off-host key file."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from .messages import CommandFailed, Die, Output
from .runner import DEVNULL, PIPE, Result, Runner, Stream
from .settings import Settings

_SSH_HOST = re.compile(r"[A-Za-z0-9._-]+")
_IPV6 = re.compile(r"\[([0-9A-Fa-f:.]+)\]")
_ABSENT = re.compile(
    r"unable to open config file: .*(no such file or directory|file does not exist"
    r"|The specified key does not exist|The specified bucket does not exist)",
    re.S,
)
# restic's words for refused S3 credentials -> (code, the Pulumi key to fix, what it means)
_S3_REFUSALS = (
    (
        "The request signature we calculated does not match",
        "SignatureDoesNotMatch",
        "ora:backupOffsiteS3SecretAccessKey",
        "it is not the secret of the access key id AWS_ACCESS_KEY_ID",
    ),
    (
        "Access Key Id you provided does not exist",
        "InvalidAccessKeyId",
        "ora:backupOffsiteS3AccessKeyId",
        "the S3 server has no such access key",
    ),
    (
        "Access Denied",
        "AccessDenied",
        "ora:backupOffsiteS3AccessKeyId",
        "that key may not use the bucket (its policy must allow s3:* on the bucket and its"
        " objects)",
    ),
)


@dataclass(frozen=True)
class State:
    """What restic says of a repository: opens, absent, wrong-password, or refused (why)."""

    kind: str
    reason: str = ""


def classify(errors: str, repository: str, credentials_file: str) -> State:
    """The state of `repository` from what `restic cat config` printed when it failed."""
    for words, code, key, problem in _S3_REFUSALS:
        if words in errors:
            # Names, never values: both are secrets.
            return State(
                "refused",
                f"the S3 server of {repository} refused the credentials in {credentials_file}"
                f" ({code}): {key} = (secret, not shown): {problem}. Fix: pulumi config set"
                f" --secret {key} VALUE, then pulumi up",
            )
    if _ABSENT.search(errors):
        return State("absent")
    if "wrong password" in errors:
        return State("wrong-password")
    # ssh's own words (host key, login refused) and restic's verdict.
    lines = errors.rstrip("\n").split("\n") if errors.rstrip("\n") else []
    said = [line for line in lines if re.match(r"(subprocess ssh|Fatal): ", line)]
    problem = " ".join(said[-2:]) or (lines[-1] if lines else "")
    return State("refused", f"cannot open the repository {repository} ({problem})")


def wrong_password(repository: str, password_file: str, prog: str) -> str:
    return (
        f"the password file {password_file} does not open the repository {repository} (wrong"
        f" password). Fix: put its password there, or change it with: {prog} set-password"
    )


def newest_id(snapshots_json: str) -> str:
    """The id of the newest snapshot in `restic snapshots --json`, or ""."""
    snapshots = sorted(json.loads(snapshots_json) or [], key=lambda s: s["time"])
    return snapshots[-1]["id"] if snapshots else ""


class Restic:
    def __init__(self, settings: Settings, runner: Runner, output: Output) -> None:
        self.settings = settings
        self.runner = runner
        self.output = output

    def ssh_command(self, repository: str) -> str:
        """The ssh command restic runs for an sftp: repository, logging in with the off-host
        key file (only its path is an argument); "" for other repositories or without one."""
        key, known_hosts = self.settings.offsite_ssh_key, self.settings.offsite_known_hosts
        if not (repository.startswith("sftp:") and key):
            return ""
        if not _readable(key):
            raise Die(
                f"the off-host SSH key {key} is missing or unreadable (ora:backupOffsiteSshKey)"
            )
        user, host, port = _login(repository)
        options = f"-i {key} -o IdentitiesOnly=yes -o BatchMode=yes"
        if known_hosts:
            # Pinned host keys when the file has any, else the first key seen is kept there.
            checking = "yes" if _non_empty(known_hosts) else "accept-new"
            options += f" -o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking={checking}"
        port_option = f" -p {port}" if port else ""
        user_option = f" -l {user}" if user else ""
        return f"ssh {options}{port_option}{user_option} {host} -s sftp"

    def argv(self, repository: str, *args: str) -> list[str]:
        ssh = self.ssh_command(repository)
        return ["restic", "-o", f"sftp.command={ssh}", *args] if ssh else ["restic", *args]

    def run(
        self,
        *args: str,
        repository: str | None = None,
        password_file: str | None = None,
        stdin: Stream = None,
        stdout: Stream = PIPE,
        stderr: Stream = None,
        cwd: str | None = None,
    ) -> Result:
        """restic on `repository` (the main one by default); a repository it cannot log in
        to fails like restic would, with the reason where its errors go."""
        repository = repository or self.settings.repository
        try:
            argv = self.argv(repository, *args)
        except Die as error:
            line = self.output.error_line(error.message) + "\n"
            if stderr is PIPE:
                return Result(1, "", line)
            if stderr is None:
                self.output.stream.write(line)
                self.output.stream.flush()
            return Result(1)
        env = dict(self.settings.env, RESTIC_REPOSITORY=repository)
        env["RESTIC_PASSWORD_FILE"] = password_file or self.settings.password_file
        return self.runner.run(argv, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr)

    def state(self, repository: str, password_file: str) -> State:
        done = self.run(
            "cat", "config", repository=repository, password_file=password_file,
            stdout=DEVNULL, stderr=PIPE,
        )  # fmt: skip
        if done.ok:
            return State("opens")
        return classify(done.stderr, repository, self.settings.credentials_file)

    def ensure(self) -> None:
        """The main repository opens, or is created now; else the run stops saying why."""
        repository, password_file = self.settings.repository, self.settings.password_file
        state = self.state(repository, password_file)
        if state.kind == "refused":
            raise Die(state.reason)
        if state.kind == "wrong-password":
            raise Die(wrong_password(repository, password_file, self.output.prog))
        if state.kind == "absent":
            self.output.say(f"initialising the restic repository {repository}")
            if not self.run("init", stdout=DEVNULL).ok:
                raise Die(f"cannot initialise the restic repository {repository}")

    def snapshots_args(self, extra_tag: str = "") -> tuple[str, ...]:
        """This stack's snapshots as JSON; a comma ANDs tags (repeated --tag flags OR them)."""
        tag = f"ora,stack={self.settings.stack}" + (f",{extra_tag}" if extra_tag else "")
        return ("snapshots", "--tag", tag, "--json")

    def snapshot_id_of(self, name: str) -> str:
        args = self.snapshots_args(f"name={name}")
        done = self.run(*args)
        try:
            if done.ok:
                return newest_id(done.stdout)
        except (ValueError, KeyError, TypeError):
            pass
        raise CommandFailed(["restic", *args], done.returncode or 1)

    def unlock_stale(self, repository: str | None = None) -> None:
        """Locks of restic processes that no longer run (a killed backup) stop the exclusive
        commands (prune, check, key remove); `restic unlock` removes only those."""
        repository = repository or self.settings.repository
        if not self.run("unlock", repository=repository, stdout=DEVNULL, stderr=DEVNULL).ok:
            self.output.say(f"warning: restic unlock failed in {repository}")


def _login(repository: str) -> tuple[str, str, str]:
    """(user, host, port) of an sftp: repository; the host bare (an IPv6 one unbracketed)."""
    port = ""
    if repository.startswith("sftp://"):
        login = repository[len("sftp://") :].split("/", 1)[0]
        found = re.fullmatch(r"(.*):([0-9]+)", login, re.S)
        if found:
            login, port = found[1], found[2]
    else:
        login = repository[len("sftp:") :].split(":", 1)[0]
    host = login.rsplit("@", 1)[-1]
    user = login.rsplit("@", 1)[0] if "@" in login else ""
    bracketed = _IPV6.fullmatch(host)
    if bracketed:
        host = bracketed[1]
    elif not _SSH_HOST.fullmatch(host):
        host = ""
    if not host or not re.fullmatch(r"[A-Za-z0-9._-]*", user):
        raise Die(
            f"cannot read the SSH host of the repository {repository} (use sftp:USER@HOST:/PATH,"
            " sftp:USER@[IPV6]:/PATH or sftp://USER@HOST:PORT//PATH)"
        )
    return user, host, port


def _readable(path: str) -> bool:
    return os.access(path, os.R_OK)


def _non_empty(path: str) -> bool:
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False
