"""The command line: backup.sh (ora-backup on the host) create, list, rollback, prune,
check and set-password; what a failed run reports; one run at a time per staging dir."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import sys
from collections.abc import Mapping

from . import metrics
from .create import create
from .listing import table
from .messages import CommandFailed, Die, HelperFailed, Output, helper_error
from .names import (
    CREDENTIALS_FILE,
    HEALTH_TIMEOUT,
    NAME_PATTERN,
    PASSWORD_FILE,
    REPOSITORY,
    RETENTION,
    SETTINGS_FILE,
    STAGING_DIR,
    TEXTFILE_DIR,
)
from .password import set_password
from .rollback import rollback
from .run import Run
from .runner import Runner
from .settings import load

USAGE = f"""\
Ora backups on the Docker host, into a restic repository (encrypted, deduplicated).

  backup.sh create [NAME]   Redis's AOF files (BGSAVE snapshot without an AOF), Qdrant
                            collection snapshots (its API) and the app data volume,
                            + manifest.json, as one restic snapshot; NAME defaults to
                            ora_backup_YYYYMMDD_HHMMSS (UTC)
  backup.sh list            this stack's backups: name, time (UTC), size, counts
  backup.sh rollback NAME   verify NAME's checksums, take a safety backup of the current
                            state, stop app/worker/redis, restore, start, wait until healthy
  backup.sh prune           forget this stack's snapshots older than 30 days, and prune
  backup.sh check [ARG...]  restic check (e.g. --read-data-subset=10%)
  backup.sh set-password    new repository password on stdin: restic key add + key remove

Settings: {SETTINGS_FILE} and {CREDENTIALS_FILE} (credentials) when present, then
the environment (defaults in brackets):
  ORA_STACK [prod]  RESTIC_REPOSITORY [{REPOSITORY}] (any restic URL)
  RESTIC_PASSWORD_FILE [{PASSWORD_FILE}]  ORA_BACKUP_STAGING [{STAGING_DIR}]
  ORA_BACKUP_HEALTH_TIMEOUT [{HEALTH_TIMEOUT}] seconds to wait for healthy containers after a rollback
  ORA_BACKUP_TEXTFILE_DIR [{TEXTFILE_DIR}] where ora_backup.prom goes
  ORA_BACKUP_OFFSITE_REPOSITORY [none] a second restic repository, copied to after each
  backup (restic copy); its password: ORA_BACKUP_OFFSITE_PASSWORD_FILE [RESTIC_PASSWORD_FILE]
  ORA_BACKUP_OFFSITE_SSH_KEY [none] private key file of an sftp: repository, and
  ORA_BACKUP_OFFSITE_KNOWN_HOSTS [none] its server's host keys (empty: the first one seen)

"""  # noqa: E501 - the help text as operators have always read it


class Usage(Exception):
    """Wrong arguments: the help text, exit 2."""


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.status = 128 + signum


def lock(run: Run) -> None:
    """One run at a time per staging dir (the timer and an operator may meet); the lock
    holder alone owns STAGING/create, removed when it ends."""
    staging = run.settings.staging
    os.makedirs(staging, exist_ok=True)
    lock_file = os.path.join(staging, ".lock")
    descriptor = os.open(lock_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise Die(
            f"another backup.sh holds {staging}/.lock; try again when it has finished"
        ) from None
    run.cleanup.callback(os.close, descriptor)
    run.cleanup.callback(shutil.rmtree, os.path.join(staging, "create"), ignore_errors=True)


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def preflight(run: Run) -> None:
    settings = run.settings
    for tool in ("docker", "restic"):
        if shutil.which(tool, path=settings.env.get("PATH")) is None:
            raise Die(f"'{tool}' is not installed (or not on PATH)")
    if not run.docker.answers():
        raise Die(
            "the Docker engine does not answer to 'docker info' (run as root or a docker-group"
            " user)"
        )
    password_file = settings.password_file
    if not os.path.isfile(password_file):
        raise Die(
            f"the restic password file {password_file} does not exist (set RESTIC_PASSWORD_FILE)"
        )
    if not os.access(password_file, os.R_OK):
        raise Die(f"the restic password file {password_file} is not readable by {_user()}")
    if os.path.getsize(password_file) == 0:
        raise Die(f"the restic password file {password_file} is empty")
    if not re.fullmatch(NAME_PATTERN.strip("^$"), settings.stack):
        raise Die(f"ORA_STACK '{settings.stack}' must match {NAME_PATTERN}")
    if not re.fullmatch(r"[0-9]+", settings.health_timeout):
        raise Die("ORA_BACKUP_HEALTH_TIMEOUT must be a number of seconds")
    lock(run)


def prune(run: Run) -> None:
    """Forgets this stack's snapshots older than the retention, and prunes."""
    run.restic.ensure()
    run.restic.unlock_stale()
    args = ("forget", "--tag", f"ora,stack={run.settings.stack}", "--keep-within", RETENTION)
    done = run.restic.run(*args, "--prune", stdout=None)
    if not done.ok:
        raise CommandFailed(["restic", *args, "--prune"], done.returncode)


def check(run: Run, args: list[str]) -> None:
    run.restic.ensure()
    run.restic.unlock_stale()
    repository = run.settings.repository
    if not run.restic.run("check", *args, stdout=None).ok:
        raise Die(f"restic check of {repository} found problems (see above)")
    run.say(f"restic check of {repository} passed" + (f" ({' '.join(args)})" if args else ""))


def dispatch(run: Run, argv: list[str]) -> None:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "create":
        if len(args) > 1:
            raise Usage
        run.metric = True
        preflight(run)
        print(create(run, *args), flush=True)
    elif command == "rollback":
        if len(args) != 1:
            raise Die(f"rollback needs exactly one NAME (see: {run.prog} list)")
        preflight(run)
        print(rollback(run, args[0]), flush=True)
    elif command == "check":
        preflight(run)
        check(run, args)
    elif command in ("list", "prune", "set-password") and not args:
        _without_arguments(run, command)
    else:
        raise Usage


def _without_arguments(run: Run, command: str) -> None:
    if command == "set-password":
        if shutil.which("restic", path=run.settings.env.get("PATH")) is None:
            raise Die("'restic' is not installed (or not on PATH)")
        os.makedirs(os.path.dirname(run.settings.password_file) or ".", exist_ok=True)
        lock(run)
        set_password(run)
        return
    preflight(run)
    if command == "prune":
        prune(run)
        return
    run.restic.ensure()
    listed = run.restic.run(*run.restic.snapshots_args())
    if not listed.ok:
        raise CommandFailed(["restic", *run.restic.snapshots_args()], listed.returncode)
    sys.stdout.write(table(listed.stdout))
    sys.stdout.flush()


def _report_failure(run: Run) -> None:
    """What a failed run leaves to know: the metric, stopped containers, how to recover."""
    if run.metric:
        metrics.record(run, "0")
    if run.stopped:
        run.say(
            f"FAILED with these containers of stack {run.settings.stack} STOPPED:"
            f" {' '.join(run.stopped)}"
        )
    if run.recovery:
        run.say(run.recovery)


@contextlib.contextmanager
def _signals():
    """SIGTERM and SIGHUP end the run like a failure: cleaned up and reported."""

    def interrupted(signum, frame):
        raise Interrupted(signum)

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(run: Run, argv: list[str]) -> int:
    try:
        with run.cleanup:
            dispatch(run, argv)
        return 0
    except Usage:
        sys.stderr.write(USAGE)
        return 2
    except Die as error:
        run.output.error(error.message)
    except HelperFailed as error:
        helper_error(error.message)
    except CommandFailed as error:
        run.say(f"command failed: {' '.join(error.argv)}")
        return error.status
    except Interrupted as error:
        return error.status
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        run.say(f"command failed: {error}")
    return 1


def main(argv: list[str], environ: Mapping[str, str], prog: str, runner: Runner | None = None):
    """Runs the command; returns the exit status. Files it writes are its user's alone
    (umask 077) while it runs; the caller's umask is put back after."""
    umask = os.umask(0o077)
    try:
        return _main(argv, environ, prog, runner)
    finally:
        os.umask(umask)


def _main(argv: list[str], environ: Mapping[str, str], prog: str, runner: Runner | None) -> int:
    output = Output(prog)
    try:
        settings = load(environ)
    except Die as error:
        output.error(error.message)
        return 1
    run = Run(settings, output, runner or Runner())
    with _signals():
        try:
            status = _run(run, argv)
        except BaseException:
            _report_failure(run)
            raise
        if status not in (0, 2):
            _report_failure(run)
    return status
