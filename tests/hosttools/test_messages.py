"""Messages name repositories, never the password of their URL's userinfo."""

from __future__ import annotations

import io

import pytest

from infra.hosttools.backup.messages import Output, redacted

CASES = {
    "rest:http://ora:s3cret@127.0.0.1:8000/repo": "rest:http://ora:***@127.0.0.1:8000/repo",
    "s3:https://key:secret@s3.example.net/bucket": "s3:https://key:***@s3.example.net/bucket",
    "sftp:backup:pw@vault.example.net:/srv/ora": "sftp:backup:***@vault.example.net:/srv/ora",
    "from rest:http://a:b@h/x to rest:http://c:d@k/y": "from rest:http://a:***@h/x to rest:http://c:***@k/y",
    "sftp:backup@vault.example.net:/srv/ora": "sftp:backup@vault.example.net:/srv/ora",
    "rest:http://ora@127.0.0.1/repo": "rest:http://ora@127.0.0.1/repo",
    "/opt/ora/backups/restic": "/opt/ora/backups/restic",
}


@pytest.mark.parametrize(("text", "shown"), CASES.items(), ids=list(CASES))
def test_the_userinfo_password_is_shown_as_stars(text, shown):
    assert redacted(text) == shown


def test_errors_and_notes_are_redacted_and_prefixed():
    stream = io.StringIO()
    output = Output("ora-backup", stream)
    output.error("cannot open the repository rest:http://u:pw@h/r (x)\n\n")
    output.say("initialising the restic repository rest:http://u:pw@h/r")
    assert stream.getvalue() == (
        "ora-backup: error: cannot open the repository rest:http://u:***@h/r (x)\n"
        "ora-backup: initialising the restic repository rest:http://u:***@h/r\n"
    )
