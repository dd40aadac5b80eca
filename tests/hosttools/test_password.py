"""set-password: the stale locks go before the keys change, in every repository rotated."""

from __future__ import annotations

import io
import json

from infra.hosttools.backup.runner import Result
from tests.hosttools.fakes import FakeRunner, host, main

OLD_KEY = "b234eac8" + "0" * 56


def test_stale_locks_are_removed_before_the_keys_change(tmp_path, monkeypatch, capsys):
    """A restic killed earlier (SIGTERM, SIGKILL) leaves its lock, and restic 0.14 refuses
    the exclusive `key remove` while any lock is there, stale or not."""
    offsite = str(tmp_path / "offsite")
    env = host(tmp_path, ORA_BACKUP_OFFSITE_REPOSITORY=offsite)
    ran = []

    def restic(argv: list[str], options: dict) -> Result:
        verb = " ".join(argv[1:3]) if argv[1] == "key" else argv[1]
        ran.append((verb, options["env"]["RESTIC_REPOSITORY"]))
        if verb == "key list":
            return Result(0, json.dumps([{"id": OLD_KEY, "current": True}]))
        return Result(0)

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a-new-password-987\n")))
    assert main(env, FakeRunner(restic), "set-password") == 0
    for repository in (env["RESTIC_REPOSITORY"], offsite):
        verbs = [verb for verb, where in ran if where == repository]
        assert verbs.index("unlock") < verbs.index("key add") < verbs.index("key remove")
    err = capsys.readouterr().err
    assert err.count("rotated the key of") == 2 and "warning" not in err
    assert (tmp_path / "restic-password").read_text() == "a-new-password-987\n"
