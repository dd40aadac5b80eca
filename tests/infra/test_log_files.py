"""The service's log files on the app-logs volume (ORA_LOG_DIR, app/ora/logs.py): present,
written by the app's uid, readable by mtail's, rotated at 1 MB x 3. On swarm, each node
has its own app-logs volume, written by the tasks it runs."""

from __future__ import annotations

import re

import pytest

from infra.services import app

STREAMS = [("app-0", "app"), ("worker", "worker"), ("worker", "scheduler")]


def _container(outputs, writer: str) -> str:
    """The writer's container; on swarm, the node under test's (each node has its own
    app-logs volume, and the run on the worker's node checks the worker's files)."""
    names = outputs["containers"]
    if writer == "app-0":
        return names["app"][0]
    if writer not in names:
        pytest.skip(f"no {writer} task on this node: the run on its node checks its files")
    return names[writer]


@pytest.mark.parametrize(("writer", "stream"), STREAMS)
def test_log_file_is_owned_by_the_app_uid_and_world_readable(host, outputs, writer, stream):
    path = f"{app.LOGS_DIR}/{stream}.log"
    found = host.run("docker exec %s stat -c '%%u %%a' %s", _container(outputs, writer), path)
    assert found.rc == 0, found.stderr
    uid, mode = found.stdout.split()
    assert uid == app.UID
    assert int(mode, 8) & 0o004, f"{path} mode {mode}: mtail (another uid) cannot read it"


@pytest.mark.parametrize(("writer", "stream"), STREAMS)
def test_log_file_keeps_at_most_three_backups(host, outputs, writer, stream):
    listing = host.check_output(
        "docker exec %s ls %s", _container(outputs, writer), app.LOGS_DIR
    ).split()
    backups = [int(n.rsplit(".", 1)[1]) for n in listing if re.fullmatch(rf"{stream}\.log\.\d+", n)]
    assert all(1 <= n <= 3 for n in backups), listing
