"""backup.sh copies Redis's multi-part AOF while Redis appends to it; its last incr file may
end inside a command. The backup's own AOF copy (infra/hosttools/backup/aof.py, run here on
a real redis-server's files, cut where a copy could end) keeps whole commands only, and
drops a MULTI without its EXEC: a redis-server with aof-load-truncated off then loads the
copy, and sees the state before the cut command or transaction."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from infra.hosttools.backup.aof import copy_stream


def cli(sock: Path, *args: str) -> str:
    done = subprocess.run(["redis-cli", "-s", str(sock), *args], capture_output=True, text=True)
    return done.stdout.strip()


def started(directory: Path, *extra: str) -> subprocess.Popen:
    sock = directory / "sock"
    with (directory / "log").open("w") as log:
        server = subprocess.Popen(
            [
                *("redis-server", "--port", "0", "--unixsocket", str(sock)),
                *("--dir", str(directory), "--appendonly", "yes", "--aof-use-rdb-preamble", "yes"),
                *extra,
            ],
            stdout=log,
        )
    deadline = time.monotonic() + 10
    while cli(sock, "PING") != "PONG":
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((directory / "log").read_text())
        time.sleep(0.05)
    return server


@pytest.fixture(scope="module")
def aof(tmp_path_factory) -> Path:
    """A stopped Redis's appendonlydir: 1000 keys, then a transaction, then one more SET."""
    directory = tmp_path_factory.mktemp("redis")
    server = started(directory)
    sock = directory / "sock"
    for i in range(1000):
        cli(sock, "SET", f"k{i}", f"v{i}")
    subprocess.run(
        ["redis-cli", "-s", str(sock)],
        input=b"MULTI\nSET t1 one\nSET t2 two\nEXEC\nSET last x\n",
        capture_output=True,
        check=True,
    )
    server.terminate()
    server.wait(timeout=10)
    return directory / "appendonlydir"


def incr_of(directory: Path) -> Path:
    (incr,) = directory.glob("*.incr.aof")
    return incr


def cut_copy(aof: Path, tmp_path: Path, keep) -> Path:
    """The AOF tar that backup.sh's helper would stream when the last incr file was read
    while Redis wrote: its first keep(data) bytes; through the AOF copy into a tar."""
    source = tmp_path / "source" / "appendonlydir"
    source.mkdir(parents=True)
    for path in aof.iterdir():
        data = path.read_bytes()
        (source / path.name).write_bytes(data[: keep(data)] if path.suffix == ".aof" else data)
    (manifest,) = [p.name for p in source.glob("*.manifest")]
    names = [line.split()[1] for line in (source / manifest).read_text().splitlines()]
    stream = subprocess.run(
        ["tar", "-C", str(source.parent), "--no-recursion", "-cf", "-", "appendonlydir"]
        + [f"appendonlydir/{n}" for n in (manifest, *names)],
        capture_output=True,
        check=True,
    ).stdout
    out = tmp_path / "redis.tar"
    errors = io.StringIO()
    status, kept = copy_stream(io.BytesIO(stream), str(out), errors)
    assert status == 0, errors.getvalue() + kept
    restored = tmp_path / "restored"
    restored.mkdir()
    with tarfile.open(out) as archive:
        archive.extractall(restored, filter="data")
    return restored


CUTS = {
    "whole": lambda d: len(d),
    "inside the last SET": lambda d: len(d) - 3,
    "inside EXEC": lambda d: d.rindex(b"EXEC") + 2,
    "between MULTI and EXEC": lambda d: d.rindex(b"t2"),
    "inside the first command": lambda d: 20,
}
# Keys seen after loading each cut copy: (t1, t2, last, k999)
EXPECTED = {
    "whole": ("one", "two", "x", "v999"),
    "inside the last SET": ("one", "two", "", "v999"),
    "inside EXEC": ("", "", "", "v999"),
    "between MULTI and EXEC": ("", "", "", "v999"),
    "inside the first command": ("", "", "", ""),
}


@pytest.mark.parametrize("cut", list(CUTS))
def test_a_cut_copy_loads_strictly_with_the_state_before_the_cut(aof, tmp_path, cut):
    restored = cut_copy(aof, tmp_path, CUTS[cut])
    server = started(restored, "--aof-load-truncated", "no")
    try:
        sock = restored / "sock"
        assert tuple(cli(sock, "GET", k) for k in ("t1", "t2", "last", "k999")) == EXPECTED[cut]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_unchanged_files_stay_byte_identical(aof, tmp_path):
    restored = cut_copy(aof, tmp_path, len)
    for path in aof.iterdir():
        assert (restored / "appendonlydir" / path.name).read_bytes() == path.read_bytes()
