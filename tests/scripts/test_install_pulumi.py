"""scripts/install-pulumi.sh against a real local HTTP server serving fake archives."""

import hashlib
import http.server
import io
import os
import subprocess
import tarfile
import threading
from functools import partial
from pathlib import Path

import pytest

from tests.ports import allocate

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-pulumi.sh"
# A PATH with the tools the script uses (curl, tar, sha256sum) and no pulumi.
BARE_PATH = "/usr/bin:/bin"


def _fake_archive() -> bytes:
    body = b"#!/bin/sh\necho v0.0.0-fake\n"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(body), 0o755
        tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def _pinned_version() -> str:
    for line in SCRIPT.read_text().splitlines():
        if line.startswith("PULUMI_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("PULUMI_VERSION= not found in install-pulumi.sh")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serves every linux archive name of the pinned version, all with the same fake bytes."""
    root = tmp_path_factory.mktemp("releases")
    payload = _fake_archive()
    for arch in ("x64", "arm64"):
        (root / f"pulumi-v{_pinned_version()}-linux-{arch}.tar.gz").write_bytes(payload)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hashlib.sha256(payload).hexdigest()
    httpd.shutdown()
    httpd.server_close()


def _run(dest: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), str(dest)],
        env={"PATH": BARE_PATH, "HOME": os.environ.get("HOME", "/root"), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_installs_when_the_checksum_matches(server, tmp_path):
    base, digest = server
    done = _run(tmp_path / "pulumi", PULUMI_DOWNLOAD_BASE=base, PULUMI_SHA256=digest)
    assert done.returncode == 0, done.stderr
    out = subprocess.run([tmp_path / "pulumi" / "pulumi"], capture_output=True, text=True)
    assert out.stdout.strip() == "v0.0.0-fake"


def test_refuses_an_archive_whose_checksum_differs_from_the_pin(server, tmp_path):
    base, digest = server
    done = _run(tmp_path / "pulumi", PULUMI_DOWNLOAD_BASE=base)
    assert done.returncode == 1
    assert f"got {digest}; refusing to install it" in done.stderr
    assert not (tmp_path / "pulumi").exists()


def test_a_failed_download_names_the_manual_install(tmp_path):
    port = allocate()  # a port nothing listens on: a real refused connection
    done = _run(tmp_path / "pulumi", PULUMI_DOWNLOAD_BASE=f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    manual = f"curl -fsSL https://get.pulumi.com | sh -s -- --version {_pinned_version()}"
    assert f"install the Pulumi CLI by hand: {manual}" in done.stderr
    assert not (tmp_path / "pulumi").exists()


def test_does_nothing_when_pulumi_is_on_path(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "pulumi").write_text("#!/bin/sh\n")
    (fake_bin / "pulumi").chmod(0o755)
    done = _run(tmp_path / "pulumi", PATH=f"{fake_bin}:{BARE_PATH}", PULUMI_DOWNLOAD_BASE="x:")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pulumi").exists()
